# Stitch: the winners, narration, music and subtitles into the final mp4, behind GATE 3.
# Narration is its own job per shot (the paid TTS call), never a side effect of the stitch.
# The cut is a build of parts (spark_video/stitch.py): one job per reel's picture
# (final/reels/reel-NN.mp4) and speech bus (final/sound/speech-NN.f32), one for the master
# sound (final/sound/master.m4a), and the final is a mux of them. Which shots a reel reads
# and the settings key it depends on are the package's (stitch.episode_reel_targets); the
# reel count comes from the storyboard checkpoint, like the renders' shot list.
from spark_video import stitch as sv_stitch  # noqa: E402

FINAL_DIR = str(Path(FINAL_MP4).parent)
REEL_MP4 = f"{FINAL_DIR}/reels/reel-{{num}}.mp4"
SPEECH_F32 = f"{FINAL_DIR}/sound/speech-{{num}}.f32"
MASTER_M4A = f"{FINAL_DIR}/sound/master.m4a"


def reel_list():
    """The cut's reels (stitch.ReelTarget), once per version of what decides them."""
    shots = storyboard_shots()
    return per_version("reels", [_STORYBOARD_READ["path"], str(EP.stitch_request),
                                 str(EP.bgm_config)],
                       lambda: sv_stitch.episode_reel_targets(EP, CFG, shots))


def reel_of(wildcards):
    for r in reel_list():
        if r.num == wildcards.num:
            return r
    raise ValueError(f"the cut of {STORYBOARD} has no reel {wildcards.num}")


def reel_inputs(wildcards):
    """A reel's shots' clips, continuation takes and narration (the next reel's first shot
    too: the reel renders its crossfade in), behind GATE 3."""
    r = reel_of(wildcards)
    narrated = set(narration_shots())
    takes = EP.continuation_takes(list(r.shots))
    return {"clips": [str(EP.clip(s)) for s in r.shots],
            "takes": [str(takes[s]) for s in r.shots if s in takes],
            "narration": [str(EP.narration(s)) for s in r.shots if s in narrated],
            "gate": barrier("render") + barrier("bgm"), "check": storyboard_check()}


def speech_inputs(wildcards):
    return {**reel_inputs(wildcards), "narration_settings": optional(EP.narration_settings)}


def master_inputs(wildcards):
    return {"speech": [SPEECH_F32.format(num=r.num) for r in reel_list()],
            "music": [str(p) for p in sv_gates.bgm_tracks(EP)],
            "bgm": optional(EP.bgm_config), "gate": barrier("render") + barrier("bgm"),
            "check": storyboard_check() + checked(EP.bgm_config)}


def reel_files(wildcards):
    return [REEL_MP4.format(num=r.num) for r in reel_list()]


rule narration:
    output:
        f"{E}/tts/{{shot}}.wav",
    input:
        unpack(narration_inputs),
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
        unpack(reel_inputs),
    params:
        cut=lambda wildcards: reel_of(wildcards).picture,
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
        unpack(speech_inputs),
    params:
        cut=lambda wildcards: reel_of(wildcards).speech,
    log:
        f"{LOGS}/speech-{{num}}.log",
    script:
        "../scripts/job.py"


rule master:
    output:
        MASTER_M4A,
    input:
        unpack(master_inputs),
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
        reels=reel_files,
        master=MASTER_M4A,
        request=optional(EP.stitch_request),
    log:
        f"{LOGS}/stitch.log",
    script:
        "../scripts/job.py"
