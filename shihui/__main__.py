from shihui.cli import main

main()
