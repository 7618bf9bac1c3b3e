"""The control plane (`lunge-mp serve`): REST routes, WebSocket stream, dashboard."""
