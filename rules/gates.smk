# Gates as approval stamps: a closed gate's barrier job runs after viewer.html shows what it
# covers, prints which gate is closed and the command that approves it, and fails, so the
# build stops there.
# If the gate is open by the time its inputs are built (e.g. a deleted clip was restored
# unchanged), the job passes and its temporary token lets the build go on.


rule gate_closed:
    output:
        temp(EP.pattern("gate_barrier")),
    input:
        gate_inputs,
    log:
        f"{LOGS}/gate-{{gate}}.log",
    script:
        "../scripts/job.py"
