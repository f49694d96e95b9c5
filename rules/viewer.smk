# viewer.html: the whole production in one self-contained page, written by this rule only.
# It follows the build to the gate where it stops (every gate's barrier waits for it), so the
# page is fresh whenever a gate is shown.


rule build_viewer:
    output:
        report(VIEWER, caption="../report/viewer.rst", category="Final"),
    input:
        unpack(viewer_inputs),
    log:
        f"{LOGS}/viewer.log",
    script:
        "../scripts/job.py"
