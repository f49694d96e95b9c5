"""The art department: cast/set/prop add and cast fork, offline and against the local
DashScope-protocol server, with sizes the image model accepts."""

from __future__ import annotations

from fake_dashscope import FAKE_KEY, fake_dashscope_fixture  # noqa: F401 - fixture
from PIL import Image, ImageChops, ImageStat

from spark_video.base.paths import EpisodePaths
from spark_video.base.project import build_manifest, split_front_matter
from spark_video.cli import main
from spark_video.providers.capabilities import image_size_problem, parse_size
from spark_video.roles import art

ANCHOR = "cinematic, salt-stained teal and amber palette, soft film grain"


def cli(projects, *args):
    return main([*args, "--project", "demo"])


def card(path):
    return split_front_matter(path, path.read_text())[0]


def test_add_cast_set_prop_offline(projects, run_env, capsys):
    assert cli(projects, "cast", "add", "Ada", "--appearance", "wiry harbour pilot",
               "--age", "51", "--dont", "shouting") == 0
    folder = projects / "demo" / "cast" / "Ada"
    c = card(folder / "cast.md")
    assert c == {"name": "Ada", "age": 51, "visual_anchor": "wiry harbour pilot",
                 "dont": ["shouting"]}
    with Image.open(folder / "reference.png") as im:
        assert im.size == (768, 1024)  # 3:4 portrait
    assert cli(projects, "set", "add", "Lamp room", "--lighting", "storm night, one lamp") == 0
    assert cli(projects, "prop", "add", "Bottle-sealed", "--state", "sealed, salt-crusted",
               "--episode", "004") == 0
    with Image.open(projects / "demo" / "movie-set" / "Lamp room" / "reference.png") as im:
        assert abs(im.size[0] / im.size[1] - 16 / 9) < 0.01  # 16:9 set
    prop = projects / "demo" / "episode-004" / "props" / "Bottle-sealed"
    with Image.open(prop / "reference.png") as im:
        assert im.size[0] == im.size[1]  # 1:1 product shot
    assert card(prop / "prop.md")["state"] == "sealed, salt-crusted"
    ep = EpisodePaths.of("demo", "004", root=projects)
    assert "Bottle-sealed" in build_manifest(ep, "prop").names()
    assert "Ada" in build_manifest(ep, "cast").names()
    # the prompt carries the mood anchor; the call is logged (project logs for project tier)
    log = (projects / "demo" / "logs" / "model_calls.jsonl").read_text()
    assert ANCHOR in log and "Character portrait of Ada, 51" in log
    # no overwrite without --force; a clear usage error without the required text
    assert cli(projects, "cast", "add", "Ada", "--appearance", "x") == 1
    assert "already exists" in capsys.readouterr().err
    assert cli(projects, "set", "add", "Dock") == 2


def test_fork_offline_is_a_visibly_changed_portrait(projects, run_env):
    assert cli(projects, "cast", "add", "Ada", "--appearance", "wiry harbour pilot") == 0
    assert cli(projects, "cast", "fork", "Ada", "--episode", "005", "--costume",
               "wedding suit") == 0
    src = projects / "demo" / "cast" / "Ada" / "reference.png"
    dst = projects / "demo" / "episode-005" / "cast" / "Ada"
    c = card(dst / "cast.md")
    assert c["costume"] == "wedding suit" and c["forked_from"] == "cast/Ada"
    with Image.open(src) as a, Image.open(dst / "reference.png") as b:
        diff = ImageStat.Stat(ImageChops.difference(a.convert("RGB"),
                                                    b.convert("RGB").resize(a.size))).mean
        assert sum(diff) / 3 > 20  # visibly changed
    ep = EpisodePaths.of("demo", "005", root=projects)
    assert build_manifest(ep, "cast").get("Ada").tier == "episode"
    assert cli(projects, "cast", "fork", "Nobody", "--episode", "005", "--costume", "x") == 1
    assert cli(projects, "cast", "fork", "Ada", "--costume", "x") == 2


def test_add_and_fork_against_dashscope(projects, run_env, fake_dashscope, monkeypatch):
    monkeypatch.setenv("SPARK_VIDEO_IMAGE_PROVIDER", "bl")
    assert cli(projects, "cast", "add", "Ada", "--appearance", "wiry harbour pilot") == 0
    assert cli(projects, "prop", "add", "Lamp-lit", "--state", "lit") == 0
    assert cli(projects, "cast", "fork", "Ada", "--episode", "006", "--costume",
               "wedding suit") == 0
    gen, prop, edit = ({**c, **i} for c, i in zip(fake_dashscope.image_calls,
                                                  fake_dashscope.image_inputs, strict=True))
    for call in (gen, prop, edit):  # sizes the model accepts, in the kind's shape
        assert image_size_problem(call["model"], call["size"]) is None
    w, h = parse_size(gen["size"])
    assert gen["model"] == "wan2.6-t2i" and abs(w / h - 3 / 4) < 0.02
    assert gen["images"] == 0 and ANCHOR in gen["text"]
    w, h = parse_size(prop["size"])
    assert w == h and "plain white background" in prop["text"]
    assert edit["model"] == "qwen-image-edit-plus" and edit["images"] == 1
    assert "wedding suit" in edit["text"] and "same face" in edit["text"]
    assert (projects / "demo" / "episode-006" / "cast" / "Ada" / "reference.png").exists()
    log = (projects / "demo" / "episode-006" / "logs" / "model_calls.jsonl").read_text()
    assert "qwen-image-edit-plus" in log and FAKE_KEY not in log


def test_unknown_image_model_is_refused_before_paying(projects, run_env, fake_dashscope,
                                                       monkeypatch, capsys):
    monkeypatch.setenv("SPARK_VIDEO_IMAGE_PROVIDER", "bl")
    monkeypatch.setenv("SPARK_VIDEO_IMAGE_MODEL", "mystery-t2i")
    assert cli(projects, "cast", "add", "Ada", "--appearance", "x") == 1
    assert "not in the capability table" in capsys.readouterr().err
    assert not fake_dashscope.image_calls
    assert not (projects / "demo" / "cast" / "Ada").exists()
    assert not list((projects / "demo" / "cast").glob(".*"))
    assert art.image_ratio("prop") == "1:1"


def test_several_portraits_of_one_cast_member_are_sent_as_one_grid(tmp_path):
    import os

    import pytest

    from spark_video.base.io import InputError

    ep = EpisodePaths.of("demo", "001", tmp_path / "projects")
    ep.scaffold()
    folder = ep.project_paths.cast_dir / "钱夫人"
    folder.mkdir(parents=True)
    Image.new("RGB", (300, 400), (255, 0, 0)).save(folder / "portrait1.png")
    one = build_manifest(ep, "cast").get("钱夫人")
    assert art.reference_image(ep, one) == one.image  # one portrait: sent as it is
    Image.new("RGB", (600, 800), (0, 0, 255)).save(folder / "portrait2.png")
    two = build_manifest(ep, "cast").get("钱夫人")
    assert len(two.images) == 2  # every portrait kept; the grid is not one of them
    rel = art.reference_image(ep, two)
    assert rel == f"{two.folder}/{art.GRID}"
    grid = tmp_path / "projects" / rel
    with Image.open(grid) as im:
        assert im.size == (2 * art.GRID_CELL[0], art.GRID_CELL[1])
        assert im.getpixel((art.GRID_CELL[0] // 2, art.GRID_CELL[1] // 2)) == (255, 0, 0)
        assert im.getpixel((art.GRID_CELL[0] * 3 // 2, art.GRID_CELL[1] // 2)) == (0, 0, 255)
    assert build_manifest(ep, "cast").get("钱夫人").images == two.images
    made = grid.stat().st_mtime_ns
    art.reference_image(ep, two)
    assert grid.stat().st_mtime_ns == made  # made once per version of the portraits
    (folder / "portrait2.png").write_bytes(b"not a png")
    os.utime(folder / "portrait2.png", ns=(made + 10**9, made + 10**9))
    with pytest.raises(InputError, match="portrait2.png.*not a readable image"):
        art.reference_image(ep, two)
