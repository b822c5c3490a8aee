from gandct.cli import main

main()
