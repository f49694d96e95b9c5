# Stitch: the winners, narration, music and subtitles into the final mp4, behind GATE 3.


rule stitch:
    output:
        mp4=FINAL_MP4,
        srt=FINAL_SRT,
    input:
        unpack(stitch_inputs),
    log:
        f"{LOGS}/stitch.log",
    resources:
        api_slots=1,
    script:
        "../scripts/stitch.py"
