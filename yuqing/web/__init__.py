"""The workbench and the open API (FastAPI; the `web` extra): `yuqing serve`, or inside `yuqing run`."""
