"""Deploy smoke test: the stack that `sam build` built, deployed to moto's
CloudFormation the way AWS deploys it, then compared with template.yaml.

The path is the one `sam deploy` takes: `sam package` uploads each
function's built artifact to S3 and rewrites its CodeUri; the
AWS::Serverless-2016-10-31 transform (samtranslator, the library behind
CloudFormation's SAM transform, shipped with the SAM CLI) turns the packaged
template into plain CloudFormation, since moto's CloudFormation runs no
transforms; then `sam deploy` creates and executes the change set with the
parameters of samconfig.toml's default environment (Stage overridden to
`smoke`). Expectations are read from
template.yaml and resolved against the created stack, so the test follows the
template, and a deployed value that differs from what the template says fails.

moto's CloudFormation does not create every resource type of the stack, and
drops some properties of those it creates. UNSUPPORTED_TYPES and
DROPPED_PROPERTIES list them, and a test fails when either list goes stale,
so a moto upgrade that learns one shows up. What the transform produces for
them (the API's routes and authorizer) is checked on the transformed
template; what it passes through unchanged (TTL, PITR, encryption,
architecture) is pinned on template.yaml, since nothing deployed can show it.

Needs AWS_ENDPOINT_URL (moto's server) and `sam build` having run
(SAM_BUILD_DIR, default .aws-sam/build).
"""
import ast
import hashlib
import io
import json
import os
import pathlib
import re
import shlex
import subprocess
import sys
import tomllib
import uuid
import zipfile
from base64 import b64encode

import boto3
import pytest
from cfnlint.decode import cfn_yaml
from samtranslator.parser.parser import Parser
from samtranslator.translator.managed_policy_translator import ManagedPolicyLoader
from samtranslator.translator.translator import Translator

ROOT = pathlib.Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))
from cfn_values import Resolver  # noqa: E402

REGION = os.environ.get("AWS_REGION", "us-east-1")
BUILD_DIR = pathlib.Path(os.environ.get("SAM_BUILD_DIR", ROOT / ".aws-sam" / "build"))

# Resource types of the transformed stack that moto's CloudFormation skips
# ("No Moto CloudFormation support"): nothing of them exists to look at.
UNSUPPORTED_TYPES = {
    "AWS::ApiGatewayV2::Api",  # the HTTP API, its routes and JWT authorizer
    "AWS::ApiGatewayV2::Stage",  # its $default stage and throttling
    "AWS::CloudWatch::Alarm",  # the dead-letter queue alarm
    "AWS::SecretsManager::Secret",  # the provider secret
}

# Properties moto's CloudFormation ignores on types it does create, with the
# value moto reports instead.
DROPPED_PROPERTIES = {
    ("AWS::Lambda::Function", "Architectures"): "moto creates x86_64 functions",
    ("AWS::Lambda::Function", "LoggingConfig"): "no LoggingConfig in the configuration",
    ("AWS::DynamoDB::Table", "TimeToLiveSpecification"): "TTL stays DISABLED",
    ("AWS::DynamoDB::Table", "PointInTimeRecoverySpecification"): "PITR stays DISABLED",
    ("AWS::DynamoDB::Table", "SSESpecification"): "no SSEDescription",
}



def not_created(logical):
    """What a `!Ref` to a resource moto did not create resolves to here; moto
    itself drops such values (an environment variable, a policy Resource)."""
    return f"<not created by moto: {logical}>"


def is_not_created(value):
    return isinstance(value, str) and value.startswith("<not created by moto: ")


def samconfig_parameters():
    """The parameter overrides `sam deploy` uses by default."""
    config = tomllib.loads((ROOT / "samconfig.toml").read_text())
    overrides = config["default"]["deploy"]["parameters"]["parameter_overrides"]
    return dict(token.split("=", 1) for token in shlex.split(overrides))


class Stack:
    """The deployed stack, with the template's values resolved against it."""

    def __init__(self, name, template, packaged, translated, parameters):
        self.name = name
        self.template = template
        self.packaged = packaged
        self.translated = translated
        summaries = boto3.client("cloudformation", region_name=REGION).describe_stack_resources(StackName=name)
        self.summaries = summaries["StackResources"]
        self.physical = {
            r["LogicalResourceId"]: r["PhysicalResourceId"]
            for r in self.summaries
            if "LogicalResourceId" in r and "PhysicalResourceId" in r
        }
        refs = {lid: not_created(lid) for lid, r in translated["Resources"].items() if r["Type"] in UNSUPPORTED_TYPES}
        refs.update(self.physical)
        self.values = Resolver(template, parameters, refs=refs, attributes={})

    def of_type(self, kind):
        return [(lid, r) for lid, r in self.template["Resources"].items() if r["Type"] == kind]

    def expected(self, value):
        return self.values.resolve(value)

    def transformed(self, logical):
        return self.translated["Resources"][logical]


def transform_parameters(parameters):
    """Parameter values as CloudFormation hands them to the transform: a
    CommaDelimitedList as a list."""
    declared = cfn_yaml.load(str(ROOT / "template.yaml"))["Parameters"]
    return {
        name: [part.strip() for part in value.split(",")]
        if declared.get(name, {}).get("Type") == "CommaDelimitedList" else value
        for name, value in parameters.items()
    }


def sam(*args, cwd):
    subprocess.run(
        [str(pathlib.Path(sys.executable).parent / "sam"), *args, "--region", REGION],
        check=True, cwd=cwd, env={**os.environ, "SAM_CLI_TELEMETRY": "0"},
    )


def deploy():
    parameters = {**samconfig_parameters(), "Stage": "smoke"}
    stack_name = f"billing-smoke-{uuid.uuid4().hex[:8]}"
    bucket = f"sam-artifacts-{uuid.uuid4().hex[:12]}"
    boto3.client("s3", region_name=REGION).create_bucket(Bucket=bucket)
    packaged_file = BUILD_DIR.parent / "smoke-packaged.yaml"
    sam("package", "--template-file", str(BUILD_DIR / "template.yaml"), "--s3-bucket", bucket,
        "--s3-prefix", stack_name, "--output-template-file", str(packaged_file), "--no-progressbar", cwd=ROOT)
    packaged = cfn_yaml.load(str(packaged_file))
    session = boto3.Session(region_name=REGION)
    translated = Translator(None, Parser(), boto_session=session).translate(
        json.loads(json.dumps(packaged)),
        parameter_values=transform_parameters(parameters),
        get_managed_policy_map=ManagedPolicyLoader(session.client("iam")).load,
    )
    transformed_file = BUILD_DIR.parent / "smoke-transformed.json"
    transformed_file.write_text(json.dumps(translated))
    # `sam deploy` itself (change set, execute, wait), with samconfig.toml's
    # parameters and capabilities given on the command line: its
    # `resolve_s3` would make SAM's managed bucket stack, whose template URL
    # moto's CloudFormation cannot read back. It runs in .aws-sam, where no
    # samconfig.toml is found.
    sam("deploy", "--template-file", str(transformed_file), "--stack-name", stack_name,
        "--capabilities", "CAPABILITY_IAM", "--no-confirm-changeset", "--no-progressbar",
        "--parameter-overrides", *[f"{k}={v}" for k, v in parameters.items()], cwd=BUILD_DIR.parent)
    pseudo = {"AWS::Region": REGION, "AWS::StackName": stack_name, "AWS::URLSuffix": "amazonaws.com"}
    template = cfn_yaml.load(str(ROOT / "template.yaml"))
    return Stack(stack_name, template, packaged, translated, {**parameters, **pseudo})


def read_attributes(stack):
    """The `!GetAtt`s template.yaml uses, read back from the created resources."""
    attributes = stack.values.attributes
    sqs = boto3.client("sqs", region_name=REGION)
    for logical, _ in stack.of_type("AWS::SQS::Queue"):
        arn = sqs.get_queue_attributes(QueueUrl=stack.physical[logical], AttributeNames=["QueueArn"])
        attributes[(logical, "Arn")] = arn["Attributes"]["QueueArn"]
        attributes[(logical, "QueueName")] = attributes[(logical, "Arn")].rsplit(":", 1)[1]
    dynamodb = boto3.client("dynamodb", region_name=REGION)
    for logical, _ in stack.of_type("AWS::DynamoDB::Table"):
        table = dynamodb.describe_table(TableName=stack.physical[logical])["Table"]
        attributes[(logical, "Arn")] = table["TableArn"]
    iam = boto3.client("iam", region_name=REGION)
    for logical, _ in stack.of_type("AWS::IAM::Role"):
        attributes[(logical, "Arn")] = iam.get_role(RoleName=stack.physical[logical])["Role"]["Arn"]
    logs = boto3.client("logs", region_name=REGION)
    for logical, _ in stack.of_type("AWS::Logs::LogGroup"):
        [group] = logs.describe_log_groups(logGroupNamePrefix=stack.physical[logical])["logGroups"]
        # moto's !GetAtt gives the group's ARN without AWS's trailing `:*`.
        attributes[(logical, "Arn")] = group["logGroupArn"]


@pytest.fixture(scope="module")
def stack():
    if not os.environ.get("AWS_ENDPOINT_URL"):
        pytest.fail("set AWS_ENDPOINT_URL to moto's server")
    if not (BUILD_DIR / "template.yaml").is_file():
        pytest.fail(f"{BUILD_DIR}/template.yaml missing: run `sam build` first")
    deployed = deploy()
    read_attributes(deployed)
    return deployed


def without_not_created(value):
    """`value` as moto deploys it: what refers to a resource it did not create is dropped."""
    if isinstance(value, dict):
        return {k: without_not_created(v) for k, v in value.items() if not is_not_created(v)}
    if isinstance(value, list):
        return [without_not_created(v) for v in value if not is_not_created(v)]
    return value


# ---------------------------------------------------------------- the stack


def test_stack_is_created_with_every_resource_of_a_type_moto_supports(stack):
    status = boto3.client("cloudformation", region_name=REGION).describe_stacks(StackName=stack.name)
    assert status["Stacks"][0]["StackStatus"] == "CREATE_COMPLETE"
    created = {r["LogicalResourceId"] for r in stack.summaries if "LogicalResourceId" in r}
    expected = {lid for lid, r in stack.translated["Resources"].items() if r["Type"] not in UNSUPPORTED_TYPES}
    assert created == expected
    assert all(r["ResourceStatus"] == "CREATE_COMPLETE" for r in stack.summaries)


def test_unsupported_types_are_exactly_those_of_the_stack_moto_cannot_create(stack):
    from moto.cloudformation.parsing import get_model_map

    types = {r["Type"] for r in stack.translated["Resources"].values()}
    assert {t for t in types if t not in get_model_map()} == UNSUPPORTED_TYPES


def test_dropped_properties_are_still_dropped_by_moto(stack):
    """When moto learns one of these, check it on the deployed resource and
    strike it from DROPPED_PROPERTIES."""
    lambda_ = boto3.client("lambda", region_name=REGION)
    dynamodb = boto3.client("dynamodb", region_name=REGION)
    [(function, _)] = stack.of_type("AWS::Serverless::Function")[:1]
    [(table, _)] = stack.of_type("AWS::DynamoDB::Table")
    config = lambda_.get_function_configuration(FunctionName=stack.physical[function])
    name = stack.physical[table]
    probes = {
        ("AWS::Lambda::Function", "Architectures"): lambda: config["Architectures"] == ["x86_64"],
        ("AWS::Lambda::Function", "LoggingConfig"): lambda: "LoggingConfig" not in config,
        ("AWS::DynamoDB::Table", "TimeToLiveSpecification"): lambda: dynamodb.describe_time_to_live(
            TableName=name)["TimeToLiveDescription"]["TimeToLiveStatus"] == "DISABLED",
        ("AWS::DynamoDB::Table", "PointInTimeRecoverySpecification"): lambda: dynamodb.describe_continuous_backups(
            TableName=name)["ContinuousBackupsDescription"]["PointInTimeRecoveryDescription"]
            ["PointInTimeRecoveryStatus"] == "DISABLED",
        ("AWS::DynamoDB::Table", "SSESpecification"): lambda: "SSEDescription" not in dynamodb.describe_table(
            TableName=name)["Table"],
    }
    # A listed property without a probe fails here with its name.
    assert [key for key in DROPPED_PROPERTIES if not probes[key]()] == []


# ---------------------------------------------------------------- data


def test_table_keys_and_billing_mode_are_deployed_as_the_template_says(stack):
    dynamodb = boto3.client("dynamodb", region_name=REGION)
    [(logical, resource)] = stack.of_type("AWS::DynamoDB::Table")
    props = stack.expected(resource["Properties"])
    table = dynamodb.describe_table(TableName=stack.physical[logical])["Table"]
    assert table["KeySchema"] == props["KeySchema"]
    assert sorted(table["AttributeDefinitions"], key=str) == sorted(props["AttributeDefinitions"], key=str)
    assert table["BillingModeSummary"]["BillingMode"] == props["BillingMode"] == "PAY_PER_REQUEST"


def test_template_pins_table_ttl_pitr_encryption_and_retention_that_moto_ignores(stack):
    [(logical, resource)] = stack.of_type("AWS::DynamoDB::Table")
    props = resource["Properties"]
    # The dedupe keys' TTL attribute is the one the store writes.
    assert props["TimeToLiveSpecification"] == {"AttributeName": "expires_at", "Enabled": True}
    assert props["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    assert props["SSESpecification"] == {"SSEEnabled": True}
    assert resource["DeletionPolicy"] == resource["UpdateReplacePolicy"] == "Retain"


def test_queues_and_the_redrive_policy_are_deployed_as_the_template_says(stack):
    sqs = boto3.client("sqs", region_name=REGION)
    queues = stack.of_type("AWS::SQS::Queue")
    assert len(queues) == 2
    for logical, resource in queues:
        props = stack.expected(resource["Properties"])
        url = stack.physical[logical]
        attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
        for key in ["MessageRetentionPeriod", "MaximumMessageSize", "VisibilityTimeout"]:
            if key in props:
                assert attributes[key] == str(props[key]), f"{logical}.{key}"
        # moto's defaults equal the template's SSE and maximum size, so those two
        # would pass even if dropped; retention and visibility would not.
        assert attributes["SqsManagedSseEnabled"] == str(props["SqsManagedSseEnabled"]).lower() == "true"
        if "RedrivePolicy" in props:
            redrive = json.loads(attributes["RedrivePolicy"])
            assert redrive["deadLetterTargetArn"] == props["RedrivePolicy"]["deadLetterTargetArn"]
            assert int(redrive["maxReceiveCount"]) == props["RedrivePolicy"]["maxReceiveCount"] == 5
        else:
            assert "RedrivePolicy" not in attributes


def test_template_pins_the_secret_placeholder_and_the_dead_letter_alarm_moto_cannot_create(stack):
    secret = stack.template["Resources"]["ProviderSecret"]
    assert secret["Properties"]["Name"] == {"Fn::Sub": "billing/${Stage}/providers"}
    assert json.loads(secret["Properties"]["SecretString"]) == {"stripe": {"apiKey": "", "webhookSecrets": []}}
    alarm = stack.template["Resources"]["DeadLetterQueueAlarm"]["Properties"]
    assert alarm["Dimensions"] == [{"Name": "QueueName", "Value": {"Fn::GetAtt": ["BillingDeadLetterQueue", "QueueName"]}}]
    assert (alarm["MetricName"], alarm["Threshold"]) == ("ApproximateNumberOfMessagesVisible", 0)


# ---------------------------------------------------------------- IAM


def test_each_role_trusts_only_lambda_and_has_exactly_the_template_policies(stack):
    iam = boto3.client("iam", region_name=REGION)
    roles = stack.of_type("AWS::IAM::Role")
    assert len(roles) == 4
    for logical, resource in roles:
        props = stack.expected(resource["Properties"])
        name = stack.physical[logical]
        trust = iam.get_role(RoleName=name)["Role"]["AssumeRolePolicyDocument"]
        assert trust == props["AssumeRolePolicyDocument"]
        assert [s["Principal"] for s in trust["Statement"]] == [{"Service": "lambda.amazonaws.com"}]
        attached = [p["PolicyArn"] for p in iam.list_attached_role_policies(RoleName=name)["AttachedPolicies"]]
        assert attached == props.get("ManagedPolicyArns", []) == []
        assert sorted(iam.list_role_policies(RoleName=name)["PolicyNames"]) == sorted(
            p["PolicyName"] for p in props["Policies"])
        for policy in props["Policies"]:
            deployed = iam.get_role_policy(RoleName=name, PolicyName=policy["PolicyName"])["PolicyDocument"]
            if isinstance(deployed, str):
                # moto keeps an inline policy that CloudFormation created as the
                # dict's Python repr, not JSON.
                deployed = ast.literal_eval(deployed)
            assert deployed == without_not_created(policy["PolicyDocument"]), f"{logical}/{policy['PolicyName']}"
            for statement in policy["PolicyDocument"]["Statement"]:
                actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
                assert all("*" not in action for action in actions), statement
                assert statement["Resource"] not in ("*", "", None), statement


def secret_readers(stack):
    """The roles with any Secrets Manager action, and what each may read."""
    readers = {}
    for logical, resource in stack.of_type("AWS::IAM::Role"):
        for policy in resource["Properties"]["Policies"]:
            for statement in policy["PolicyDocument"]["Statement"]:
                actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
                if any(action.startswith("secretsmanager:") for action in actions):
                    readers[logical] = stack.expected(statement["Resource"])
    return readers


def test_only_the_functions_that_call_providers_may_read_the_secret_and_they_are_told_its_id(stack):
    readers = secret_readers(stack)
    assert readers == {role: not_created("ProviderSecret") for role in ["CreateSessionRole", "WebhookReceiveRole"]}
    for logical, resource in stack.of_type("AWS::Serverless::Function"):
        role = resource["Properties"]["Role"]["Fn::GetAtt"][0]
        secret_id = function_settings(stack, resource)["Variables"].get("BILLING_SECRET_ID")
        assert secret_id == readers.get(role), logical


# ---------------------------------------------------------------- functions


def function_settings(stack, resource):
    """A function's settings as the template says: Globals, then its own."""
    settings = {k: v for k, v in stack.template["Globals"]["Function"].items() if k != "Environment"}
    own = resource["Properties"]
    settings.update({k: v for k, v in own.items() if k != "Environment"})
    variables = dict(stack.template["Globals"]["Function"].get("Environment", {}).get("Variables", {}))
    variables.update(own.get("Environment", {}).get("Variables", {}))
    settings["Variables"] = variables
    return stack.expected(settings)


def test_functions_are_deployed_with_the_template_runtime_memory_timeout_role_and_environment(stack):
    lambda_ = boto3.client("lambda", region_name=REGION)
    functions = stack.of_type("AWS::Serverless::Function")
    assert len(functions) == 4
    for logical, resource in functions:
        expected = function_settings(stack, resource)
        config = lambda_.get_function_configuration(FunctionName=stack.physical[logical])
        assert config["Runtime"] == expected["Runtime"] == "provided.al2023", logical
        assert config["Handler"] == expected["Handler"] == "bootstrap", logical
        assert config["MemorySize"] == int(expected["MemorySize"]), logical
        assert config["Timeout"] == int(expected["Timeout"]), logical
        assert config["Role"] == expected["Role"], logical
        variables = {k: str(v) for k, v in without_not_created(expected["Variables"]).items()}
        # moto keeps a `!Ref` to a Number parameter as a number; Lambda has strings only.
        deployed = {k: str(v) for k, v in config["Environment"]["Variables"].items()}
        assert deployed == variables, logical
        # Deployed with the defaults, no stage has the sandbox provider switched on.
        assert "SANDBOX_API_BASE" not in config["Environment"]["Variables"], logical


def test_each_function_is_arm64_and_logs_to_its_own_group_as_the_template_says(stack):
    groups = []
    for logical, resource in stack.of_type("AWS::Serverless::Function"):
        assert function_settings(stack, resource)["Architectures"] == ["arm64"], logical
        group = resource["Properties"]["LoggingConfig"]["LogGroup"]["Ref"]
        assert stack.template["Resources"][group]["Type"] == "AWS::Logs::LogGroup", logical
        # Its role may write there and nowhere else.
        role = resource["Properties"]["Role"]["Fn::GetAtt"][0]
        writes = [
            statement["Resource"]
            for policy in stack.template["Resources"][role]["Properties"]["Policies"]
            for statement in policy["PolicyDocument"]["Statement"]
            if "logs:PutLogEvents" in statement["Action"]
        ]
        assert writes == [{"Fn::GetAtt": [group, "Arn"]}], logical
        groups.append(group)
    assert len(set(groups)) == len(groups)


def test_each_function_runs_the_bootstrap_sam_built(stack):
    lambda_ = boto3.client("lambda", region_name=REGION)
    s3 = boto3.client("s3", region_name=REGION)
    for logical, _ in stack.of_type("AWS::Serverless::Function"):
        bucket, key = stack.packaged["Resources"][logical]["Properties"]["CodeUri"].removeprefix("s3://").split("/", 1)
        archive = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        config = lambda_.get_function_configuration(FunctionName=stack.physical[logical])
        assert config["CodeSha256"] == b64encode(hashlib.sha256(archive).digest()).decode(), logical
        zipped = zipfile.ZipFile(io.BytesIO(archive))
        assert zipped.namelist() == ["bootstrap"], logical
        # test_sam_build checks these very bytes are an aarch64 executable.
        assert zipped.read("bootstrap") == (BUILD_DIR / logical / "bootstrap").read_bytes(), logical
        assert zipped.getinfo("bootstrap").external_attr >> 16 & 0o111, f"{logical}: bootstrap not executable"


def test_log_groups_are_deployed_with_the_template_names_and_retention(stack):
    logs = boto3.client("logs", region_name=REGION)
    groups = stack.of_type("AWS::Logs::LogGroup")
    assert len(groups) == 4
    for logical, resource in groups:
        props = stack.expected(resource["Properties"])
        [group] = logs.describe_log_groups(logGroupNamePrefix=props["LogGroupName"])["logGroups"]
        assert group["logGroupName"] == props["LogGroupName"] == stack.physical[logical]
        assert group["retentionInDays"] == int(props["RetentionInDays"])


def test_the_queue_triggers_webhook_process_with_batch_failure_reporting(stack):
    lambda_ = boto3.client("lambda", region_name=REGION)
    triggers = [
        (logical, event)
        for logical, resource in stack.of_type("AWS::Serverless::Function")
        for event in resource["Properties"].get("Events", {}).values()
        if event["Type"] == "SQS"
    ]
    assert [logical for logical, _ in triggers] == ["WebhookProcessFunction"]
    for logical, event in triggers:
        props = stack.expected(event["Properties"])
        [mapping] = lambda_.list_event_source_mappings(FunctionName=stack.physical[logical])["EventSourceMappings"]
        assert mapping["EventSourceArn"] == props["Queue"]
        assert mapping["BatchSize"] == props["BatchSize"]
        assert mapping["MaximumBatchingWindowInSeconds"] == props["MaximumBatchingWindowInSeconds"]
        assert mapping["FunctionResponseTypes"] == props["FunctionResponseTypes"] == ["ReportBatchItemFailures"]


# ---------------------------------------------------------------- API


def template_routes(stack):
    """(METHOD, path) -> (function, authorizer or None) as template.yaml declares them."""
    default = stack.template["Resources"]["BillingApi"]["Properties"]["Auth"]["DefaultAuthorizer"]
    routes = {}
    for logical, resource in stack.of_type("AWS::Serverless::Function"):
        for event in resource["Properties"].get("Events", {}).values():
            if event["Type"] == "HttpApi":
                props = event["Properties"]
                authorizer = props.get("Auth", {}).get("Authorizer", default)
                routes[(props["Method"].upper(), props["Path"])] = (logical, None if authorizer == "NONE" else authorizer)
    return routes


def transformed_routes(stack):
    """The same, from the OpenAPI body the transform gives the HTTP API."""
    body = stack.transformed("BillingApi")["Properties"]["Body"]
    routes = {}
    for path, item in body["paths"].items():
        for method, operation in item.items():
            integration = operation["x-amazon-apigateway-integration"]
            assert integration["payloadFormatVersion"] == "2.0", (method, path)
            # arn:...:path/2015-03-31/functions/${Function.Arn}/invocations
            [function] = re.findall(r"\$\{(\w+)\.Arn\}", integration["uri"]["Fn::Sub"])
            # SAM writes `Authorizer: NONE` as the security requirement {"NONE": []}.
            [[authorizer]] = [list(requirement) for requirement in operation["security"]]
            routes[(method.upper(), path)] = (function, None if authorizer == "NONE" else authorizer)
    return routes


def documented_routes():
    """(METHOD, path) of every operation in infra/openapi.json."""
    paths = json.loads((ROOT / "infra" / "openapi.json").read_text())["paths"]
    return {(method.upper(), path) for path, operations in paths.items() for method in operations
            if method in {"get", "put", "post", "delete", "patch"}}


def test_api_routes_integrations_and_authorizers_reach_cloudformation_as_the_template_says(stack):
    routes = transformed_routes(stack)
    assert routes == template_routes(stack)
    # Every operation of the API's contract is a deployed route.
    assert set(routes) == documented_routes()
    body = stack.transformed("BillingApi")["Properties"]["Body"]
    jwt = body["components"]["securitySchemes"]["BillingJwt"]["x-amazon-apigateway-authorizer"]
    assert jwt["type"] == "jwt"
    assert jwt["jwtConfiguration"] == {"issuer": {"Ref": "JwtIssuer"}, "audience": {"Ref": "JwtAudience"}}
    assert jwt["identitySource"] == "$request.header.Authorization"
    cors = body["x-amazon-apigateway-cors"]
    assert cors["allowOrigins"] == stack.expected({"Ref": "AllowedRedirectOrigins"})
    [stage] = [r for r in stack.translated["Resources"].values() if r["Type"] == "AWS::ApiGatewayV2::Stage"]
    assert stage["Properties"]["StageName"] == "$default" and stage["Properties"]["AutoDeploy"] is True
    assert stage["Properties"]["DefaultRouteSettings"] == {
        "ThrottlingBurstLimit": {"Ref": "ApiThrottlingBurstLimit"},
        "ThrottlingRateLimit": {"Ref": "ApiThrottlingRateLimit"},
    }


def test_api_gateway_may_invoke_each_function_once_per_route(stack):
    lambda_ = boto3.client("lambda", region_name=REGION)
    routes = template_routes(stack)
    for logical in {function for function, _ in routes.values()}:
        policy = json.loads(lambda_.get_policy(FunctionName=stack.physical[logical])["Policy"])
        invoked_for = sorted(
            statement["Condition"]["ArnLike"]["AWS:SourceArn"].split("/*/", 1)[1]
            for statement in policy["Statement"]
            if statement["Principal"] == {"Service": "apigateway.amazonaws.com"}
            and statement["Action"] == "lambda:InvokeFunction"
        )
        # A path parameter is a wildcard in the permission's source ARN.
        expected = sorted(re.sub(r"\{[^}]+\}", "*", f"{m}{p}") for (m, p), (f, _) in routes.items() if f == logical)
        assert invoked_for == expected, logical
