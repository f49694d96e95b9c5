# Gates as approval stamps: a closed gate's barrier job refreshes viewer.html, prints which
# gate is closed and the command that approves it, and fails, so the build stops there.


rule gate_closed:
    output:
        f"{E}/gates/{{gate}}.closed",
    input:
        gate_inputs,
    log:
        f"{LOGS}/gate-{{gate}}.log",
    script:
        "../scripts/gate_closed.py"
