"""What `sam build` left in .aws-sam/build (SAM_BUILD_DIR): one arm64 Linux
`bootstrap` per function of template.yaml, and a built template pointing
each function at its own folder. scripts/test runs `sam build` first, exactly
as the README's Deploy section tells users to.
"""
import os
import pathlib

from cfnlint.decode import cfn_yaml

ROOT = pathlib.Path(__file__).resolve().parents[2]
BUILD_DIR = pathlib.Path(os.environ.get("SAM_BUILD_DIR", ROOT / ".aws-sam" / "build"))

ELF_MAGIC = b"\x7fELF"
ELFCLASS64, ELFDATA2LSB = 2, 1
ET_EXEC, ET_DYN = 2, 3  # a static or a position-independent executable
ELF_MACHINE_AARCH64 = 183


def functions(template):
    return [lid for lid, r in template["Resources"].items() if r["Type"] == "AWS::Serverless::Function"]


def elf_problems(data):
    """Why `data` is not a 64-bit little-endian aarch64 ELF executable; empty when it is."""
    if data[:4] != ELF_MAGIC:
        return ["not an ELF file"]
    problems = []
    if data[4] != ELFCLASS64:
        problems.append(f"ELF class {data[4]}, not 64-bit")
    if data[5] != ELFDATA2LSB:
        problems.append(f"ELF data {data[5]}, not little-endian")
    kind = int.from_bytes(data[16:18], "little")
    if kind not in (ET_EXEC, ET_DYN):
        problems.append(f"e_type {kind}, not an executable")
    machine = int.from_bytes(data[18:20], "little")
    if machine != ELF_MACHINE_AARCH64:
        problems.append(f"e_machine {machine}, not aarch64 ({ELF_MACHINE_AARCH64})")
    return problems


def test_every_function_has_an_executable_aarch64_bootstrap():
    template = cfn_yaml.load(str(ROOT / "template.yaml"))
    names = functions(template)
    assert len(names) >= 4
    for logical in names:
        bootstrap = BUILD_DIR / logical / "bootstrap"
        assert bootstrap.is_file(), f"{bootstrap} missing: did `sam build` run?"
        assert os.access(bootstrap, os.X_OK), f"{bootstrap} is not executable"
        assert elf_problems(bootstrap.read_bytes()[:64]) == [], logical
        # Only the function's binary goes into its artifact.
        assert sorted(p.name for p in bootstrap.parent.iterdir()) == ["bootstrap"], logical


def test_the_built_template_points_each_function_at_its_own_artifact():
    built = cfn_yaml.load(str(BUILD_DIR / "template.yaml"))
    assert functions(built) == functions(cfn_yaml.load(str(ROOT / "template.yaml")))
    for logical in functions(built):
        assert built["Resources"][logical]["Properties"]["CodeUri"] == logical


def test_elf_check_refuses_other_machines_and_non_elf_files():
    header = bytearray(64)
    header[:4] = ELF_MAGIC
    header[4], header[5] = ELFCLASS64, ELFDATA2LSB
    header[16:18] = ET_DYN.to_bytes(2, "little")
    header[18:20] = ELF_MACHINE_AARCH64.to_bytes(2, "little")
    assert elf_problems(bytes(header)) == []
    big_endian = bytearray(header)
    big_endian[5] = 2
    assert elf_problems(bytes(big_endian)) == ["ELF data 2, not little-endian"]
    relocatable = bytearray(header)
    relocatable[16:18] = (1).to_bytes(2, "little")
    assert elf_problems(bytes(relocatable)) == ["e_type 1, not an executable"]
    x86_64 = bytearray(header)
    x86_64[18:20] = (62).to_bytes(2, "little")
    assert elf_problems(bytes(x86_64)) == ["e_machine 62, not aarch64 (183)"]
    thirty_two = bytearray(header)
    thirty_two[4] = 1
    assert elf_problems(bytes(thirty_two)) == ["ELF class 1, not 64-bit"]
    assert elf_problems(b"#!/bin/sh\n") == ["not an ELF file"]
