# Art department: placeholder portraits for cast/sets/props without images, and the
# three manifests (one shape, one writer). After GATE 1 the named NPCs of the script's CAST
# CHECK get episode-tier cards and portraits (cast_check) before the manifests the director
# reads are built.


rule portrait:
    output:
        f"{P}/{{folder}}/portrait.png",
    input:
        # (kept: a portrait a person put in place of the placeholder is theirs, never redone)
        card=lambda wc: kept(Path(P, wc.folder, "portrait.png"),
                             frozen("storyboard", optional(*(Path(P, wc.folder, n)
                                                             for n in ("cast.md", "set.md", "prop.md"))))),
        check=lambda wc: checked(*card_files(Path(P, wc.folder)), EP.project_paths.lore),
    wildcard_constraints:
        folder=PORTRAIT_FOLDERS,
    log:
        f"{LOGS}/portraits/{{folder}}.log",
    resources:
        api_slots=1,
    script:
        "../scripts/job.py"


rule cast_check:
    output:
        f"{E}/cast-check.json",
    input:
        script=SCRIPT,
        gate=lambda wc: barrier("script"),
    log:
        f"{LOGS}/cast-check.log",
    resources:
        api_slots=1,
    script:
        "../scripts/job.py"


rule manifests:
    output:
        MANIFESTS,
    input:
        cast_check=f"{E}/cast-check.json",
        portraits=portrait_targets(),
        entities=entity_files(),
        check=entity_checks(),
    log:
        f"{LOGS}/manifests.log",
    script:
        "../scripts/job.py"
