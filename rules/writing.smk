# Screenwriter: premise -> outline (checkpoint: the scene count) -> scene-NN.md in
# parallel -> script.md (GATE 1).


checkpoint outline:
    output:
        OUTLINE,
    input:
        premise=optional(EP.premise) or optional(EP.project_paths.premise),
        lore=optional(EP.project_paths.lore),
        cast=project_cast_cards(),
        mode=optional(EP.approval("mode")),
        check=lambda wc: checked(EP.premise, EP.project_paths.premise, EP.project_paths.lore),
    log:
        f"{LOGS}/outline.log",
    resources:
        api_slots=1,
    script:
        "../scripts/outline.py"


rule scene_md:
    output:
        EP.pattern("scene_md"),
    input:
        outline=OUTLINE,
        cast=project_cast_cards(),
        producer_notes=lambda wc: optional(EP.notes(f"scene-{wc.num}")),
        check=lambda wc: checked(OUTLINE, EP.project_paths.lore, EP.notes(f"scene-{wc.num}")),
    log:
        f"{LOGS}/scene-{{num}}.md.log",
    resources:
        api_slots=1,
    script:
        "../scripts/scene_md.py"


rule script_md:
    output:
        SCRIPT,
    input:
        scene_mds,
    log:
        f"{LOGS}/script.log",
    script:
        "../scripts/script_md.py"
