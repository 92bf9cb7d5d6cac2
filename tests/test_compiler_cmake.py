"""The CMake library in every project (`lib/<name>/CMakeLists.txt`): a user's CMake project adds it with
one `add_subdirectory` line. Configured and built here for the host (an application linking it answers as
the reference does) and for Cortex-M with arm-none-eabi-gcc (a toolchain file as an SDK would give)."""

from __future__ import annotations

import shutil
import subprocess

import numpy as np
import pytest

from dwn_mcu.compiler import build_project
from dwn_mcu.compiler.project import load_project
from dwn_mcu.synthetic import adversarial_inputs, random_model
from dwn_mcu.targets.sketch_protocol import expected

APP = """\
cmake_minimum_required(VERSION 3.13)
project(app LANGUAGES C)
add_subdirectory({lib} model)
add_executable(app app.c)
target_link_libraries(app PRIVATE cm)
"""
APP_C = """\
#include <stdio.h>
#include <string.h>
#include "cm.h"
int main(void) {
    cm_input_t x[CM_NUM_FEATURES];
    cm_score_t s[CM_NUM_CLASSES];
    unsigned int bits;
    for (;;) {
        for (unsigned f = 0; f < CM_NUM_FEATURES; ++f) {
            if (scanf("%x", &bits) != 1) return 0;
            memcpy(&x[f], &bits, sizeof bits);
        }
        printf("%u", (unsigned)cm_predict(x, s));
        for (unsigned c = 0; c < CM_NUM_CLASSES; ++c) printf(" %ld", (long)s[c]);
        printf("\\n");
    }
}
"""
CORTEX_M = """\
set(CMAKE_SYSTEM_NAME Generic)
set(CMAKE_SYSTEM_PROCESSOR arm)
set(CMAKE_C_COMPILER arm-none-eabi-gcc)
set(CMAKE_TRY_COMPILE_TARGET_TYPE STATIC_LIBRARY)
set(CMAKE_C_FLAGS_INIT "-mcpu=cortex-m4 -mthumb -mfloat-abi=hard -mfpu=fpv4-sp-d16 -Os -ffunction-sections -fdata-sections")
"""


def _need(*tools):
    for tool in tools:
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} not installed")


def _cmake(source, build, *extra):
    for args in (["-S", str(source), "-B", str(build), "-G", "Ninja" if shutil.which("ninja") else "Unix Makefiles",
                  *extra], ["--build", str(build)]):
        proc = subprocess.run(["cmake", *args], capture_output=True, text=True, timeout=120)
        assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    model = random_model(seed=11, num_features=3, bits_per_feature=5, luts=(24, 12), n=4, num_classes=3)
    out = tmp_path_factory.mktemp("cmake") / "project"
    build_project(model, "nano", out, name="cm", verify_vectors=adversarial_inputs(model, seed=1, random_rows=16))
    return load_project(out)


def test_project_carries_a_plain_static_library(project):
    text = (project.root / "lib" / "cm" / "CMakeLists.txt").read_text()
    assert "add_library(cm STATIC src/cm.c)" in text
    assert "target_include_directories(cm PUBLIC" in text


def test_host_application_links_the_library_and_agrees(project, tmp_path):
    _need("cmake", "cc")
    app = tmp_path / "app"
    app.mkdir()
    (app / "CMakeLists.txt").write_text(APP.format(lib=(project.root / "lib" / "cm").as_posix()))
    (app / "app.c").write_text(APP_C)
    _cmake(app, tmp_path / "build")
    X = project.vectors
    lines = "".join(" ".join(f"{b:08x}" for b in row) + "\n" for row in X.view(np.uint32))
    proc = subprocess.run([str(tmp_path / "build" / "app")], input=lines, capture_output=True, text=True,
                          timeout=60)
    got = [[int(v) for v in line.split()] for line in proc.stdout.splitlines()]
    assert proc.returncode == 0 and len(got) == X.shape[0]
    assert got == expected(project.model, X)


def test_cortex_m_build_with_a_toolchain_file(project, tmp_path):
    _need("cmake", "arm-none-eabi-gcc", "arm-none-eabi-nm")
    toolchain = tmp_path / "cortex-m4.cmake"
    toolchain.write_text(CORTEX_M)
    _cmake(project.root / "lib" / "cm", tmp_path / "build", f"-DCMAKE_TOOLCHAIN_FILE={toolchain}")
    archive = tmp_path / "build" / "libcm.a"
    symbols = subprocess.run(["arm-none-eabi-nm", str(archive)], capture_output=True, text=True, check=True).stdout
    assert " T cm_predict" in symbols
    attrs = subprocess.run(["arm-none-eabi-readelf", "-A", str(archive)], capture_output=True, text=True).stdout
    assert "Tag_CPU_arch: v7E-M" in attrs and "Tag_ABI_VFP_args: VFP registers" in attrs
