# Input checks: a bad user-editable file (rules/common.smk `checked`) becomes a check job
# that the job reading it waits on. The check fails with one message naming the file, the
# field and the fix, so the reading job never starts and its last good output stays. If the
# file was fixed meanwhile, the check passes and its temporary token lets the build go on.


rule check_input:
    output:
        temp(f"{LOGS}/checks/{{source}}.bad"),
    wildcard_constraints:
        source=r".+",
    log:
        f"{LOGS}/checks/{{source}}.log",
    script:
        "../scripts/job.py"
