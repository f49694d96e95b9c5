# Director: scene-NN.md -> scene-NN.json per scene, in parallel, behind GATE 1; then the
# storyboard checkpoint (which writes shots/<id>.json only when a shot's spec changed)
# and the cost estimate shown at GATE 2.


rule scene_json:
    output:
        f"{E}/scenes/scene-{{num}}.json",
    input:
        md=f"{E}/scenes/scene-{{num}}.md",
        manifests=MANIFESTS,
        gate=lambda wc: barrier("script"),
    log:
        f"{LOGS}/scene-{{num}}.json.log",
    resources:
        api_slots=1,
    script:
        "../scripts/scene_json.py"


checkpoint compile_storyboard:
    output:
        STORYBOARD,
    input:
        scenes=scene_jsons,
        manifests=MANIFESTS,
        bgm=optional(EP.bgm_config),
        mode=optional(EP.approval("mode")),
    log:
        f"{LOGS}/storyboard.log",
    script:
        "../scripts/storyboard.py"


rule estimate:
    output:
        ESTIMATE,
    input:
        STORYBOARD,
    log:
        f"{LOGS}/estimate.log",
    script:
        "../scripts/estimate.py"
