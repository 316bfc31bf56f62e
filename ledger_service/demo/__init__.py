"""The demo: a compliance year in one industrial park, told on the embedded chain."""
