"""Proving generated firmware on cross compilers and emulated chips (simavr, QEMU), with ELF sizes."""
