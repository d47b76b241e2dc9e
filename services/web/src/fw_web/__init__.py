"""fw_web: server-rendered pages over the JSON APIs of intake, session, billing and retention."""

SERVICE = "web"
