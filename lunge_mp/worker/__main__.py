from lunge_mp.worker.main import main

main()
