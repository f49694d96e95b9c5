# Stitch: the winners, narration, music and subtitles into the final mp4, behind GATE 3.
# Narration is its own job per shot (the paid TTS call), never a side effect of the stitch.


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
