bench-bins:
