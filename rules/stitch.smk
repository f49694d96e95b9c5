# Stitch: the winners, narration, music and subtitles into the final mp4, behind GATE 3.
# Narration is its own job per shot (the paid TTS call), never a side effect of the stitch.
# The cut is a build of parts (spark_video/stitch.py): one job per reel's picture
# (final/reels/reel-NN.mp4) and speech bus (final/sound/speech-NN.f32), one for the master
# sound (final/sound/master.m4a), and the final is a mux of them. Which shots a reel reads
# and the settings key it depends on are the package's (stitch.episode_reel_targets, asked
# once per storyboard version by workflow.Workflow.reels); the reel count comes from the
# storyboard checkpoint, like the renders' shot list.
from spark_video import stitch as sv_stitch  # noqa: E402

REEL_MP4 = str(sv_stitch.reel_file(EP, "{num}"))
SPEECH_F32 = str(sv_stitch.speech_file(EP, "{num}"))
MASTER_M4A = str(sv_stitch.master_file(EP))


rule narration:
    output:
        f"{E}/tts/{{shot}}.wav",
    input:
        unpack(narration_inputs),
    params:
        line=lambda wildcards: WF.narration_line(wildcards.shot),
    log:
        f"{LOGS}/narration-{{shot}}.log",
    resources:
        api_slots=1,
    script:
        "../scripts/job.py"


rule reel:
    wildcard_constraints:
        num=r"\d\d+",
    output:
        REEL_MP4,
    input:
        unpack(lambda wildcards: WF.reel_inputs(wildcards.num)),
    params:
        cut=lambda wildcards: WF.reel(wildcards.num).picture,
    log:
        f"{LOGS}/reel-{{num}}.log",
    script:
        "../scripts/job.py"


rule speech:
    wildcard_constraints:
        num=r"\d\d+",
    output:
        SPEECH_F32,
    input:
        unpack(lambda wildcards: WF.speech_inputs(wildcards.num)),
    params:
        cut=lambda wildcards: WF.reel(wildcards.num).speech,
    log:
        f"{LOGS}/speech-{{num}}.log",
    script:
        "../scripts/job.py"


rule master:
    output:
        MASTER_M4A,
    input:
        unpack(lambda wildcards: WF.master_inputs()),
    log:
        f"{LOGS}/master.log",
    script:
        "../scripts/job.py"


rule stitch:
    output:
        mp4=report(FINAL_MP4, caption="../report/final.rst", category="Final"),
        srt=report(FINAL_SRT, caption="../report/srt.rst", category="Final"),
        otio=FINAL_OTIO,
    input:
        unpack(stitch_inputs),
        request=optional(EP.stitch_request),
    log:
        f"{LOGS}/stitch.log",
    script:
        "../scripts/job.py"
