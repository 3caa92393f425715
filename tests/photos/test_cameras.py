"""Cameras by URL: a snapshot camera served on loopback, a folder camera; `dockstation cameras`."""

from __future__ import annotations

import os
import threading
import time

import pytest
from click.testing import CliRunner
from photo_support import SnapshotCamera, picture

from dockstation.cameras import CameraError, open_camera
from dockstation.cameras.capture import shoot
from dockstation.cli import main
from dockstation.photos.config import CameraConfig, PhotosConfig


def cam(url: str, **kw) -> CameraConfig:
    return CameraConfig(name="desk", url=url, **kw)


def test_a_snapshot_camera_on_loopback_gives_a_stored_photo(camera):
    shot = shoot(open_camera(cam(camera.url)), PhotosConfig(max_px=800))
    assert camera.requests == 1 and shot.raw_bytes == len(camera.body)
    assert max(shot.processed.width, shot.processed.height) == 800 and shot.camera == "desk"


def test_the_snapshot_camera_password_goes_in_a_header(camera):
    url = camera.url.replace("http://", "http://bench:s%3Acret@")
    device = open_camera(cam(url))
    assert device.capture()[:3] == b"\xff\xd8\xff"
    assert camera.auth == "Basic YmVuY2g6czpjcmV0"  # bench:s:cret
    assert "cret" not in device.shown


def test_a_failing_snapshot_camera_says_why(camera):
    camera.status = 503
    with pytest.raises(CameraError, match="answered 503"):
        open_camera(cam(camera.url)).capture()
    camera.status = 200
    camera.body = b"<html>login</html>"
    with pytest.raises(CameraError, match="not a picture"):
        shoot(open_camera(cam(camera.url)), PhotosConfig())
    closed = camera.url.replace(str(camera.server.server_address[1]), "1")
    with pytest.raises(CameraError, match="unreachable"):
        open_camera(cam(closed, timeout_s=2)).capture()
    assert open_camera(cam(closed, timeout_s=2)).probe() is not None


def test_a_folder_camera_takes_the_newest_new_file_once(tmp_path):
    folder = tmp_path / "tether"
    folder.mkdir()
    (folder / "old.jpg").write_bytes(picture(seed=1))
    old = time.time() - 3600
    os.utime(folder / "old.jpg", (old, old))
    device = open_camera(cam(f"dir://{folder}", timeout_s=0.5))
    with pytest.raises(CameraError, match="no new photo"):  # a file from before the bench started is not new
        device.capture()
    (folder / "a.jpg").write_bytes(picture(seed=2))
    (folder / "notes.txt").write_text("not a photo")
    later = time.time() + 1
    (folder / "b.JPG").write_bytes(picture(seed=3))
    os.utime(folder / "b.JPG", (later, later))
    assert device.capture() == (folder / "b.JPG").read_bytes()  # the newest
    assert device.capture() == (folder / "a.jpg").read_bytes()  # then the next newest not used yet
    with pytest.raises(CameraError, match="no new photo"):
        device.capture()


def test_a_folder_camera_waits_for_the_file_the_grader_takes_next(tmp_path):
    folder = tmp_path / "tether"
    folder.mkdir()
    device = open_camera(cam(f"dir://{folder}", timeout_s=10))
    data = picture(seed=4)

    def phone() -> None:  # the picture arrives in two writes, like a slow copy
        time.sleep(0.3)
        with open(folder / "IMG_0001.jpg", "wb") as fh:
            fh.write(data[:1000])
            fh.flush()
            time.sleep(0.3)
            fh.write(data[1000:])

    threading.Thread(target=phone).start()
    assert device.capture() == data


def test_a_missing_folder_or_device_is_reported(tmp_path):
    assert "no folder" in open_camera(cam(f"dir://{tmp_path}/nope")).probe()
    assert "not plugged in" in open_camera(cam("v4l2:///dev/video97")).probe()
    with pytest.raises(CameraError, match="not plugged in"):
        open_camera(cam("v4l2:///dev/video97")).capture()


@pytest.mark.parametrize(("url", "reason"), [("ftp://x/y.jpg", "unknown camera URL"), ("dir://relative", "absolute path"),
                                             ("v4l2:///etc/passwd", "not a video device"), ("http:///x", "no host")])
def test_bad_camera_urls_are_refused_at_load(home, url, reason):
    from dockstation.config import ConfigError, load_bench_config

    (home / "config" / "station.toml").write_text(f'station_id = "B07"\n[[cameras]]\nname = "desk"\nurl = "{url}"\n')
    with pytest.raises(ConfigError) as err:
        load_bench_config(home)
    assert err.value.key == "cameras.0.url" and reason in err.value.reason


def test_cameras_list_and_test_commands(home, camera, tmp_path):
    (home / "config" / "station.toml").write_text(
        f'station_id = "B07"\n[[cameras]]\nname = "desk"\nurl = "{camera.url}"\n'
        f'[[cameras]]\nname = "gone"\nurl = "dir://{tmp_path}/nope"\ntimeout_s = 0.3\n')
    runner = CliRunner()
    listed = runner.invoke(main, ["--home", str(home), "cameras", "list"])
    assert listed.exit_code == 0, listed.output
    assert "desk" in listed.output and "✔ ready" in listed.output and "✖ no folder" in listed.output
    out = tmp_path / "out"
    ok = runner.invoke(main, ["--home", str(home), "cameras", "test", "desk", "-o", str(out)])
    assert ok.exit_code == 0, ok.output
    assert "✔ desk: 1200x800" in ok.output and (out / "camera-test-desk.jpg").read_bytes()[:3] == b"\xff\xd8\xff"
    bad = runner.invoke(main, ["--home", str(home), "cameras", "test", "-o", str(out)])
    assert bad.exit_code == 1 and "✖ gone" in bad.output and "1 camera(s) failed: gone" in bad.output
    missing = runner.invoke(main, ["--home", str(home), "cameras", "test", "nope"])
    assert missing.exit_code == 1 and "no camera named 'nope'" in missing.output
