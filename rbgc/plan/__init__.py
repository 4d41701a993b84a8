"""Review an upgrade before it happens: `rbgc diff` and `rbgc plan`.

    diff.py     Bundle x Bundle -> typed changes (Added | Removed | Changed); deepdiff inside only
    impact.py   what a change does to running pods: restarts, scale, config, recreate, metadata
    rollout.py  the ordered rollout steps (waves, strategies, coordination) and their invariants
    render.py   text (colour on a terminal), JSON and Markdown views
    gitrev.py   the OLD side of `--git REF`: a git revision exported to a temporary folder

Importing this package is cheap on purpose: deepdiff is imported by the functions that use it.
"""
