from rbgc.cli import main

main()
