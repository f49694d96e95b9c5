# viewer.html: the whole production in one self-contained page (also refreshed at gates).


rule build_viewer:
    output:
        VIEWER,
    input:
        FINAL_MP4,
    log:
        f"{LOGS}/viewer.log",
    script:
        "../scripts/build_viewer.py"
