# Screenwriter: premise -> outline (checkpoint: the scene count) -> scene-NN.md in
# parallel -> script.md (GATE 1).


checkpoint outline:
    output:
        OUTLINE,
    input:
        # (kept: a person's outline.json is an input, never rewritten)
        premise=lambda wc: kept(OUTLINE, frozen("script", optional(EP.premise)
                                  or optional(EP.project_paths.premise), OUTLINE, is_premise)),
        lore=lambda wc: kept(OUTLINE, frozen("script", optional(EP.project_paths.lore),
                                             OUTLINE, is_lore)),
        cast=lambda wc: kept(OUTLINE, frozen("script", project_cast_cards(), OUTLINE,
                                             is_cast_card)),
        mode=lambda wc: kept(OUTLINE, frozen("script", optional(EP.approval("mode")))),
        check=lambda wc: checked(EP.premise, EP.project_paths.premise, EP.project_paths.lore),
    log:
        f"{LOGS}/outline.log",
    resources:
        api_slots=1,
    script:
        "../scripts/job.py"


rule scene_md:
    output:
        EP.pattern("scene_md"),
    input:
        # (kept: a hand-written scene is an input; a producer's note still rewrites it)
        outline=lambda wc: kept(EP.scene_md(int(wc.num)), frozen("script", [OUTLINE]))[0],
        cast=lambda wc: kept(EP.scene_md(int(wc.num)), frozen(
            "script", project_cast_cards(), EP.scene_md(int(wc.num)), is_cast_card)),
        producer_notes=lambda wc: optional(EP.notes(f"scene-{wc.num}")),
        check=lambda wc: checked(OUTLINE, EP.project_paths.lore, EP.notes(f"scene-{wc.num}")),
    log:
        f"{LOGS}/scene-{{num}}.md.log",
    resources:
        api_slots=1,
    script:
        "../scripts/job.py"


rule script_md:
    output:
        report(SCRIPT, caption="../report/script.rst", category="Script"),
    input:
        scene_mds,
    log:
        f"{LOGS}/script.log",
    script:
        "../scripts/job.py"
