# Render: one job per shot behind GATE 2. A clip depends on its own spec, its media and,
# when chained, the previous shot's last frame -- never on storyboard.json -- so an edit
# re-renders exactly the shots it touches. api_slots caps concurrent provider calls.


rule render_clip:
    output:
        f"{E}/clips/{{shot}}.mp4",
    input:
        unpack(clip_inputs),
    log:
        f"{LOGS}/render-{{shot}}.log",
    resources:
        api_slots=1,
    script:
        "../scripts/render_clip.py"


rule last_frame:
    output:
        f"{E}/frames/{{shot}}.last.png",
    input:
        f"{E}/clips/{{shot}}.mp4",
    log:
        f"{LOGS}/frame-{{shot}}.log",
    script:
        "../scripts/last_frame.py"


rule shots_state:
    output:
        SHOTS_STATE,
    input:
        all_clips,
    log:
        f"{LOGS}/shots_state.log",
    script:
        "../scripts/shots_state.py"
