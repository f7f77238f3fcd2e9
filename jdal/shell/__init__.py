"""The host shell of the commands: everything that parses flags, prints, shows
progress, writes files or plots. The pure core (the rest of `jdal`) does none of it.

Commands (`experiments/<name>.py` runs `jdal.shell.<name>.main`):
    run      one (problem, γ) cell per method, a table and a plot
    sweep    problems x methods x γ, resumable, `--shard I/N`
    report   figures, summary.md and cells.csv of a results folder

Jobs:
    flags    command-line flags -> validated Config
    cells    computing cells (compiled and run apart, timed) and caching them on disk
    shards   splitting a sweep among workers, by estimated work
    timing   seconds of each AL step's training and acquisition
    names    method and γ labels and order
    text     numbers and tables as text
    summary  summary.md and cells.csv (cells scored by jdal.scoring)
    plots    figures
    problem_spec  what --problem may name: a data file or an import path
"""
