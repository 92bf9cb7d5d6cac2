"""Training DWNs with PyTorch (CPU or CUDA). The only part of dwn-mcu that imports torch."""
