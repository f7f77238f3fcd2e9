"""The device suite's parts (benchmarks/device_suite.py runs them), one module each:

common         sizes, time boxes, the report being built (Suite), the Part record
robo_cell      the robo paper cell, extrapolated from its first steps
throughput     stack and adm training per precision: TFLOP/s, peak, memory
gamma_grid     the γ grid against one call per γ (also benchmarks/gamma_grid.py)
compile_times  whole-program compile seconds
paper_cells    paper cells by the sweep's own code, with the time left
report         the Markdown report
schedule       the time budget shared out part by part
"""
