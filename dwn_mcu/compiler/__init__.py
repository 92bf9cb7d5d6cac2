"""Compiling a frozen DWN for a board: plan -> pack -> render -> write. Never imports torch."""
