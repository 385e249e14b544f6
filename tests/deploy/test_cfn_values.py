"""scripts/cfn_values.py: the template's intrinsic functions resolved as
CloudFormation resolves them, for provision-aws and the deploy smoke test."""
import pathlib
import sys

import pytest

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[2] / "scripts"))
from cfn_values import NO_VALUE, Resolver, UnsupportedIntrinsic  # noqa: E402

TEMPLATE = {
    "Parameters": {
        "Stage": {"Type": "String", "Default": "dev"},
        "Origins": {"Type": "CommaDelimitedList"},
        "Sandbox": {"Type": "String", "Default": ""},
        "Days": {"Type": "Number", "Default": 7},
    },
    "Conditions": {"SandboxEnabled": {"Fn::Not": [{"Fn::Equals": [{"Ref": "Sandbox"}, ""]}]}},
}


def resolver(**parameters):
    return Resolver(TEMPLATE, parameters, refs={"Queue": "https://queue"}, attributes={("Queue", "Arn"): "arn:q"})


def test_parameters_take_the_given_value_else_the_default_as_a_string():
    values = resolver(Stage="prod")
    assert values.resolve({"Ref": "Stage"}) == "prod"
    assert values.resolve({"Ref": "Days"}) == "7"


def test_comma_delimited_lists_split_and_join_back():
    values = resolver(Origins="https://a.example, https://b.example")
    assert values.resolve({"Ref": "Origins"}) == ["https://a.example", "https://b.example"]
    assert values.resolve({"Fn::Join": [",", {"Ref": "Origins"}]}) == "https://a.example,https://b.example"


def test_refs_getatts_and_subs_of_resources_and_parameters():
    values = resolver()
    assert values.resolve({"Ref": "Queue"}) == "https://queue"
    assert values.resolve({"Fn::GetAtt": ["Queue", "Arn"]}) == "arn:q"
    assert values.resolve({"Fn::GetAtt": "Queue.Arn"}) == "arn:q"
    assert values.resolve({"Fn::Sub": "billing/${Stage}/${Queue.Arn}"}) == "billing/dev/arn:q"


def test_a_false_condition_with_no_value_drops_the_property_and_a_true_one_keeps_it():
    variable = {"A": "1", "SANDBOX": {"Fn::If": ["SandboxEnabled", {"Ref": "Sandbox"}, {"Ref": "AWS::NoValue"}]}}
    assert resolver().resolve(variable) == {"A": "1"}
    assert resolver(Sandbox="http://127.0.0.1:3000").resolve(variable) == {"A": "1", "SANDBOX": "http://127.0.0.1:3000"}
    assert resolver().resolve([{"Ref": "AWS::NoValue"}, "x"]) == ["x"]
    assert resolver().resolve({"Ref": "AWS::NoValue"}) is NO_VALUE


def test_an_unknown_intrinsic_or_name_is_an_error_not_a_guess():
    with pytest.raises(UnsupportedIntrinsic, match="Fn::Select"):
        resolver().resolve({"Fn::Select": [0, ["a"]]})
    with pytest.raises(KeyError):
        resolver().resolve({"Ref": "Missing"})
    with pytest.raises(UnsupportedIntrinsic, match="Queue.QueueName"):
        resolver().resolve({"Fn::GetAtt": ["Queue", "QueueName"]})
    with pytest.raises(UnsupportedIntrinsic, match="Queue.Url"):
        resolver().resolve({"Fn::Sub": "${Queue.Url}"})
    with pytest.raises(UnsupportedIntrinsic, match="variable map"):
        resolver().resolve({"Fn::Sub": ["${X}", {"X": "1"}]})


def test_a_property_named_condition_is_kept_as_data():
    assert resolver().resolve({"Condition": {"StringEquals": {"a": "b"}}}) == {"Condition": {"StringEquals": {"a": "b"}}}
