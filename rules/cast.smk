# Art department: placeholder portraits for cast/sets/props without images, and the
# three manifests (one shape, one writer).


rule portrait:
    output:
        f"{P}/{{folder}}/portrait.png",
    input:
        card=lambda wc: optional(*(Path(P, wc.folder, n) for n in ("cast.md", "set.md", "prop.md"))),
    wildcard_constraints:
        folder=PORTRAIT_FOLDERS,
    log:
        f"{LOGS}/portraits/{{folder}}.log",
    resources:
        api_slots=1,
    script:
        "../scripts/portrait.py"


rule manifests:
    output:
        MANIFESTS,
    input:
        portraits=portrait_targets(),
    log:
        f"{LOGS}/manifests.log",
    script:
        "../scripts/manifests.py"
