# Director: direction.json once per episode, then scene-NN.md -> scene-NN.json per scene, in parallel, behind GATE 1; then the
# storyboard checkpoint (which writes shots/<id>.json only when a shot's spec changed),
# the cost estimate shown at GATE 2 and, when `vfx` is on, the VFX review before GATE 2.


rule direction:
    output:
        f"{E}/direction.json",
    input:
        # (kept: a person's direction.json is an input, never rewritten)
        script=lambda wc: kept(EP.direction, [SCRIPT])[0],
        outline=lambda wc: kept(EP.direction, frozen("script", [OUTLINE]))[0],  # after GATE 1: until `revise`
        cast=lambda wc: kept(EP.direction, frozen("storyboard", MANIFESTS[:1])),
        lore=lambda wc: kept(EP.direction, frozen("storyboard", optional(EP.project_paths.lore),
                                                  EP.direction, is_lore)),
        gate=lambda wc: barrier("script"),
        check=lambda wc: checked(OUTLINE, EP.project_paths.lore),
    log:
        f"{LOGS}/direction.log",
    resources:
        api_slots=1,
    script:
        "../scripts/job.py"


rule scene_json:
    output:
        EP.pattern("scene_json"),
    input:
        # (kept: a person's shot list is an input; a producer's note still rewrites it)
        md=lambda wc: kept(EP.scene_json(int(wc.num)), [str(EP.scene_md(int(wc.num)))])[0],
        direction=lambda wc: kept(EP.scene_json(int(wc.num)), [f"{E}/direction.json"])[0],
        notes=lambda wc: optional(EP.director_notes(int(wc.num))),
        manifests=lambda wc: kept(EP.scene_json(int(wc.num)), frozen("storyboard", MANIFESTS)),
        producer_notes=lambda wc: optional(EP.notes(f"shots-{wc.num}")),
        gate=lambda wc: barrier("script"),
        check=lambda wc: checked(EP.project_paths.lore, EP.scene_md(int(wc.num)),
                                 EP.director_notes(int(wc.num)), EP.notes(f"shots-{wc.num}"),
                                 EP.direction),
    log:
        f"{LOGS}/scene-{{num}}.json.log",
    resources:
        api_slots=1,
    script:
        "../scripts/job.py"


checkpoint compile_storyboard:
    output:
        report(STORYBOARD, caption="../report/storyboard.rst", category="Storyboard"),
    input:
        scenes=scene_jsons,
        manifests=frozen("storyboard", MANIFESTS),
        bgm=optional(EP.bgm_config),
        mode=frozen("storyboard", optional(EP.approval("mode"))),
        check=lambda wc: checked(EP.bgm_config),
    log:
        f"{LOGS}/storyboard.log",
    script:
        "../scripts/job.py"


rule estimate:
    output:
        report(ESTIMATE, caption="../report/estimate.rst", category="Storyboard"),
    input:
        STORYBOARD,
        lambda wc: checked(STORYBOARD),
    log:
        f"{LOGS}/estimate.log",
    script:
        "../scripts/job.py"


rule vfx_review:
    output:
        md=report(f"{E}/reviews/vfx-review.md", caption="../report/vfx.rst", category="Storyboard"),
        json=f"{E}/reviews/vfx-review.json",
    input:
        storyboard=STORYBOARD,
        direction=f"{E}/direction.json",
        manifests=MANIFESTS,
    log:
        f"{LOGS}/vfx-review.log",
    resources:
        api_slots=1,
    script:
        "../scripts/job.py"
