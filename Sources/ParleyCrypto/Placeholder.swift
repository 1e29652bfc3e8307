import ParleyWire
