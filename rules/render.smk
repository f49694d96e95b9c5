# Render: one job per shot behind GATE 2. A clip depends on its own spec, its media and,
# when chained, the previous shot's last frame -- never on storyboard.json -- so an edit
# re-renders exactly the shots it touches. The job also writes the clip's last frame, so a
# chained shot starts as soon as the shot before it is done. `render_jobs` bounds how many
# render jobs run (more than api_slots, so start-up and review overlap other shots' calls);
# inside each job a slot lock holds at most api_slots provider calls at once. Ready renders
# start in chain order (`render_priority`): first links before the shots chained after them.


rule render_clip:
    output:
        clip=EP.pattern("clip"),
        frame=EP.pattern("last_frame"),
    input:
        unpack(clip_inputs),
    log:
        f"{LOGS}/render-{{shot}}.log",
    resources:
        render_jobs=1,
    priority: render_priority
    script:
        "../scripts/job.py"


rule shots_state:
    output:
        report(SHOTS_STATE, caption="../report/shots.rst", category="Clips"),
    input:
        all_clips,
    log:
        f"{LOGS}/shots_state.log",
    script:
        "../scripts/job.py"
