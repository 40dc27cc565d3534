from skill_audit.cli import main

raise SystemExit(main())
