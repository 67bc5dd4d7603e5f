"""Managing what Gatehouse knows: apps, users, resources, the audit log, a person's account.

Per thing, side by side: its service (rules and writes, no Flask: `apps.py`, `users.py`,
`resources.py`), its pages (`*_pages.py`), its JSON API (`apps_api.py`) and its CLI
(`*_cli.py`). The page blueprints two modules share are defined once, in `pages.py`.
"""
