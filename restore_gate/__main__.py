from restore_gate.cli import main

raise SystemExit(main())
