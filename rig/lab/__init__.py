"""A lab of many bench machines on labgrid (docs/lab.md, "Many machines").

Each bench is a labgrid place; a bench host exports its parts (`rig lab host`), a job
reserves and acquires a place, builds its bench config from the place's resources, runs, puts
the bench in its safe state and releases it (`rig run --place`, `pytest --lg-place`). labgrid
is imported only here, and only when a lab is used (`rig[lab]`).
"""
