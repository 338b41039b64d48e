"""The capacity section in the template and in `estimate`.

Roles reach exactly the configured queues; the job-state rule matches jobs of every queue; the
budget table, its environment variable and the handlers' runtime key exist only with the
section; `estimate` sizes and prices reserved slots against on demand.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner
from test_components_runtime import props, statements_of_role, template_for

from mediapipe_cfn import ids
from mediapipe_cfn.cli import main
from mediapipe_cfn.contract import Env
from mediapipe_cfn.mediaconvert.cost import estimate, load_prices
from mediapipe_cfn.mediaconvert.reserved import SECONDS_PER_DAY, reserved_plan
from mediapipe_cfn.profile import load_profile
from mediapipe_cfn.profile.model import Profile
from mediapipe_cfn.runtime_config import runtime_config

CAPACITY_PROFILE = Path(__file__).resolve().parents[1] / "profiles" / "capacity-all.yaml"
STACK_QUEUE = {"Fn::GetAtt": [ids.MEDIACONVERT_QUEUE, "Arn"]}
ACCOUNT_QUEUES = "arn:aws:mediaconvert:us-east-1:123456789012:queues/"
FALLBACK_QUEUE = {
    "Fn::Sub": "arn:${AWS::Partition}:mediaconvert:us-west-2:${AWS::AccountId}:queues/Default"
}
CONFIGURED = [
    STACK_QUEUE,
    ACCOUNT_QUEUES + "overflow",
    ACCOUNT_QUEUES + "reserved-ladder",
    FALLBACK_QUEUE,
]


def capacity_template() -> dict[str, Any]:
    return template_for(load_profile(CAPACITY_PROFILE))


def statement(template: dict[str, Any], role_id: str, sid: str) -> dict[str, Any]:
    (found,) = [s for s in statements_of_role(template, role_id) if s["Sid"] == sid]
    return found


def test_jobs_can_be_submitted_and_searched_in_exactly_the_configured_queues() -> None:
    template = capacity_template()
    for sid in ("SubmitJobsToPipelineQueue", "FindOrphanedJobs"):
        assert statement(template, ids.ORCHESTRATOR_ROLE, sid)["Resource"] == CONFIGURED
    trust = props(template, ids.MEDIACONVERT_ROLE)["AssumeRolePolicyDocument"]["Statement"][0]
    assert trust["Condition"]["ArnEquals"]["aws:SourceArn"] == CONFIGURED


def test_without_the_section_only_the_stack_queue_is_reachable() -> None:
    template = template_for()
    for sid in ("SubmitJobsToPipelineQueue", "FindOrphanedJobs"):
        assert statement(template, ids.ORCHESTRATOR_ROLE, sid)["Resource"] == [STACK_QUEUE]
    assert ids.CAPACITY_TABLE not in template["Resources"]
    for function_id in (ids.ORCHESTRATOR_FUNCTION, ids.STATUS_FUNCTION, ids.RECONCILER_FUNCTION):
        assert Env.CAPACITY_TABLE not in props(template, function_id)["Environment"]["Variables"]
    assert "capacity" not in runtime_config(load_profile("default"))


def test_the_job_state_rule_matches_the_jobs_of_every_queue() -> None:
    # Jobs are recognised by the pipeline id in their metadata, whichever queue runs them.
    pattern = props(capacity_template(), ids.JOB_STATE_RULE)["EventPattern"]
    assert "queue" not in pattern["detail"]
    assert set(pattern["detail"]["userMetadata"]) == {"mediapipePipelineId"}


def test_each_function_gets_only_its_budget_calls() -> None:
    template = capacity_template()
    table = {"Fn::GetAtt": [ids.CAPACITY_TABLE, "Arn"]}
    expected = {
        # With a fallback, the orchestrator reads the breaker's item before placing a job.
        (ids.ORCHESTRATOR_ROLE, "CountJobsAgainstQueueBudgets"): [
            "dynamodb:GetItem",
            "dynamodb:UpdateItem",
        ],
        (ids.STATUS_ROLE, "ReleaseQueueBudget"): ["dynamodb:UpdateItem"],
        (ids.RECONCILER_ROLE, "RepairQueueBudgets"): ["dynamodb:GetItem", "dynamodb:UpdateItem"],
    }
    for (role_id, sid), actions in expected.items():
        found = statement(template, role_id, sid)
        assert (found["Action"], found["Resource"]) == (actions, [table])
    put_off = statement(template, ids.ORCHESTRATOR_ROLE, "PutOffJobsWhileQueuesAreFull")
    assert put_off["Action"] == ["sqs:SendMessage"]
    for function_id in (ids.ORCHESTRATOR_FUNCTION, ids.STATUS_FUNCTION, ids.RECONCILER_FUNCTION):
        variables = props(template, function_id)["Environment"]["Variables"]
        assert variables[Env.CAPACITY_TABLE] == {"Ref": ids.CAPACITY_TABLE}


def test_the_budget_table_is_encrypted_and_recoverable() -> None:
    table = props(capacity_template(), ids.CAPACITY_TABLE)
    assert table["KeySchema"] == [{"AttributeName": "queue", "KeyType": "HASH"}]
    assert table["SSESpecification"]["SSEEnabled"] is True
    assert table["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}


def test_the_handlers_get_the_routes_budgets_and_priorities() -> None:
    document = runtime_config(load_profile(CAPACITY_PROFILE))["capacity"]
    assert document["queues"] == {
        "stack": {"arn": None, "budget": 80},
        "reserved": {
            "arn": ACCOUNT_QUEUES + "reserved-ladder",
            "budget": 6,  # 4 slots + a backlog of 2 before spilling over
            "reservedSlots": 4,
        },
        "overflow": {"arn": ACCOUNT_QUEUES + "overflow", "budget": 40},
    }
    assert document["routes"] == {
        "default": ["reserved", "stack", "overflow"],
        "mp4": ["stack", "overflow"],
    }
    assert document["priority"]["byJobKind"] == {"cmaf": 10, "mp4": -10}
    assert document["fullRetrySeconds"] == 120


def test_the_dashboard_shows_each_queue_against_its_budget() -> None:
    body = props(capacity_template(), ids.DASHBOARD)["DashboardBody"]["Fn::Sub"]
    widgets = json.loads(body)["widgets"]
    titles = [w["properties"].get("title", "") for w in widgets]
    for name in ("stack", "reserved", "overflow"):
        assert f"MediaConvert queue {name}: jobs in flight against the budget" in titles
    (reserved,) = [
        w
        for w in widgets
        if w["properties"].get("title", "").startswith("MediaConvert queue reserved")
    ]
    assert reserved["properties"]["annotations"]["horizontal"] == [
        {"label": "budget", "value": 6},
        {"label": "reserved slots", "value": 4},
    ]


def test_rendering_with_capacity_is_deterministic() -> None:
    assert json.dumps(capacity_template()) == json.dumps(
        template_for(load_profile(CAPACITY_PROFILE))
    )


# --- estimate: reserved slots against on demand --------------------------------------------


def plan_for(profile: Profile, uploads: int = 5000, minutes: float = 10.0, **kw: Any) -> Any:
    prices = load_prices()
    result = estimate(profile, uploads_per_day=uploads, avg_minutes=minutes, prices=prices)
    return result, reserved_plan(
        profile,
        uploads_per_day=uploads,
        avg_minutes=minutes,
        jobs_per_asset=len(result.jobs),
        on_demand_monthly=result.mediaconvert_cost,
        prices=prices,
        **kw,
    )


def test_slots_cover_the_daily_job_hours_at_the_stated_utilisation() -> None:
    result, plan = plan_for(load_profile("default"))
    job_seconds = 5000 * len(result.jobs) * 600  # one slot-second per source second
    assert plan.job_seconds_per_day == job_seconds
    assert plan.slots_needed == math.ceil(job_seconds / (SECONDS_PER_DAY * 0.8))
    assert plan.reserved_monthly == plan.slots_needed * 400.0
    assert plan.on_demand_monthly == result.mediaconvert_cost
    # Fewer slots are needed when they are planned busier.
    _, busier = plan_for(load_profile("default"), utilisation=1.0)
    assert busier.slots_needed == math.ceil(job_seconds / SECONDS_PER_DAY) < plan.slots_needed


def test_break_even_is_where_a_slot_costs_its_work_on_demand() -> None:
    result, plan = plan_for(load_profile("default"))
    per_upload = result.mediaconvert_cost / 5000
    assert plan.break_even_uploads_per_day_per_slot == pytest.approx(400.0 / per_upload)
    assert plan.break_even_utilisation == pytest.approx(
        plan.break_even_uploads_per_day_per_slot * len(result.jobs) * 600 / SECONDS_PER_DAY
    )
    # Below the break-even volume on demand is cheaper, above it reserved.
    low = int(plan.break_even_uploads_per_day_per_slot * 0.5)
    assert plan_for(load_profile("default"), uploads=low)[1].cheaper == "on_demand"
    assert plan.cheaper == "reserved"


def test_the_profiles_own_reserved_slots_are_priced_with_their_spill_on_demand() -> None:
    _, plan = plan_for(load_profile(CAPACITY_PROFILE))
    configured = plan.configured
    assert configured is not None and configured.slots == 4
    absorbed = 4 * SECONDS_PER_DAY * 0.8
    assert configured.spill_fraction == pytest.approx(1 - absorbed / plan.job_seconds_per_day)
    assert configured.monthly == pytest.approx(
        4 * 400.0 + configured.spill_fraction * plan.on_demand_monthly
    )
    assert plan_for(load_profile("default"))[1].configured is None


def test_no_uploads_need_no_slots() -> None:
    _, plan = plan_for(load_profile("default"), uploads=0)
    assert (plan.slots_needed, plan.break_even_utilisation) == (0, None)


def test_estimate_json_compares_reserved_with_on_demand_and_cites_the_price_source() -> None:
    args = ["estimate", "--uploads-per-day", "5000", "--avg-minutes", "10", "--format", "json"]
    result = CliRunner().invoke(main, [*args, "--utilisation", "0.8"])
    assert result.exit_code == 0, result.output
    reserved = json.loads(result.output)["reserved"]
    assert reserved["source"].startswith("https://aws.amazon.com/mediaconvert/pricing/")
    assert reserved["utilisation"] == 0.8
    assert reserved["slotsNeeded"] * reserved["reservedSlotMonthly"] == reserved["reservedMonthly"]
    assert reserved["cheaper"] in ("reserved", "on_demand")
    assert "capacity.reserved_slot_per_month" in reserved["assumptions"]
    table = CliRunner().invoke(main, ["estimate"])
    assert "Reserved slots or on demand" in table.output and "Break-even" in table.output


# --- docs/operations.md: the capacity planning section -------------------------------------

OPERATIONS = Path(__file__).resolve().parents[2] / "docs" / "operations.md"


def capacity_section() -> str:
    text = OPERATIONS.read_text(encoding="utf-8")
    return text[text.index("## Capacity planning") :]


def test_the_documented_5000_a_day_figures_are_what_estimate_prints() -> None:
    args = ["estimate", "--uploads-per-day", "5000", "--avg-minutes", "10", "--format", "json"]
    result = CliRunner().invoke(main, args)
    reserved = json.loads(result.output)["reserved"]
    section = capacity_section()
    assert f"| Jobs per upload | {reserved['jobsPerAsset']} " in section
    assert f"| Job-hours a day | {reserved['jobHoursPerDay']:,.1f}, so about " in section
    assert f"{round(reserved['jobHoursPerDay'] / 24)} jobs running" in section
    assert (
        f"| {reserved['slotsNeeded']}, USD {reserved['reservedMonthly']:,.0f} a month |" in section
    )
    assert f"| On demand, first price band | USD {reserved['onDemandMonthly']:,.0f} a month |" in (
        section
    )
    assert f"busy over {reserved['breakEvenUtilisation']:.0%} of the time" in section
    assert f"(about {reserved['breakEvenUploadsPerDayPerSlot']:.0f} uploads a day" in section


def test_the_documented_profile_section_is_valid() -> None:
    section = capacity_section()
    snippet = section.split("```yaml\n", 1)[1].split("```", 1)[0]
    profile = Profile.model_validate(yaml.safe_load(snippet))
    assert profile.capacity is not None
    assert profile.capacity.budgets() == {"stack": 100, "reserved": 25}


def test_the_documented_create_queue_command_matches_the_mediaconvert_api() -> None:
    """The CLI step cannot run offline; its parameters are checked against botocore's model."""
    import botocore.session

    section = capacity_section()
    command = section.split("```bash\n", 1)[1].split("```", 1)[0].replace("\\\n", " ").split()
    assert command[:3] == ["aws", "mediaconvert", "create-queue"]
    options = dict(zip(command[3::2], command[4::2], strict=True))
    model = botocore.session.get_session().get_service_model("mediaconvert")
    shape = model.operation_model("CreateQueue").input_shape
    members = {"--name": "Name", "--pricing-plan": "PricingPlan",
               "--reservation-plan-settings": "ReservationPlanSettings"}  # fmt: skip
    assert set(options) == set(members)
    assert options["--pricing-plan"] in shape.members["PricingPlan"].enum
    plan = shape.members["ReservationPlanSettings"]
    settings = dict(item.split("=") for item in options["--reservation-plan-settings"].split(","))
    assert set(settings) == set(plan.members) == set(plan.required_members)
    assert settings["Commitment"] in plan.members["Commitment"].enum
    assert settings["RenewalType"] in plan.members["RenewalType"].enum
    assert int(settings["ReservedSlots"]) > 0


def test_fallback_regions_are_those_botocore_knows_for_mediaconvert() -> None:
    import botocore.session

    from mediapipe_cfn.profile.model import MEDIACONVERT_REGIONS

    known = botocore.session.get_session().get_available_regions("mediaconvert")
    assert sorted(MEDIACONVERT_REGIONS) == sorted(known)


def test_render_writes_the_fallback_template_next_to_the_main_one(tmp_path: Path) -> None:
    from mediapipe_cfn.validation import _lint

    profile = Path(__file__).resolve().parents[1] / "profiles" / "capacity-all.yaml"
    out = tmp_path / "pipeline.yaml"
    result = CliRunner().invoke(main, ["render", "-p", str(profile), "-o", str(out)])
    assert result.exit_code == 0, result.output
    second = tmp_path / "pipeline-fallback-us-west-2.yaml"
    text = second.read_text(encoding="utf-8")
    assert _lint(text, ("us-west-2",)) == []
    document = yaml.safe_load(text)
    rule = document["Resources"]["ForwardJobEventsToPrimaryRegion"]["Properties"]
    assert rule["Targets"][0]["Arn"] == {
        "Fn::Sub": "arn:${AWS::Partition}:events:${PrimaryRegion}:${AWS::AccountId}"
        ":event-bus/default"
    }
    main_template = yaml.safe_load(out.read_text(encoding="utf-8"))
    assertion = main_template["Rules"]["FallbackRegionDiffersFromStackRegion"]["Assertions"][0]
    assert assertion["Assert"] == {
        "Fn::Not": [{"Fn::Equals": [{"Ref": "AWS::Region"}, "us-west-2"]}]
    }
    # Rendering twice gives the same bytes.
    CliRunner().invoke(main, ["render", "-p", str(profile), "-o", str(out)])
    assert second.read_text(encoding="utf-8") == text


def test_fallback_jobs_can_be_read_and_canceled_in_their_region() -> None:
    template = capacity_template()
    fallback_jobs = {
        "Fn::Sub": "arn:${AWS::Partition}:mediaconvert:us-west-2:${AWS::AccountId}:jobs/*"
    }
    for role_id in (ids.ORCHESTRATOR_ROLE, ids.STATUS_ROLE, ids.RECONCILER_ROLE):
        cancel = statement(template, role_id, "CancelJobsOfFailedAssets")
        assert cancel["Resource"][1:] == [fallback_jobs]
    get_job = statement(template, ids.RECONCILER_ROLE, "AskMediaConvertAboutJobs")
    assert get_job["Resource"][1:] == [fallback_jobs]
    alarm = props(template, ids.FALLBACK_ALARM)
    assert alarm["MetricName"] == "FallbackActivations"
    assert (alarm["Statistic"], alarm["Period"], alarm["Threshold"]) == ("Sum", 300, 1)
    assert alarm["AlarmActions"] == [{"Ref": ids.ALARM_TOPIC}]


def test_estimate_prices_the_fallback_jobs_cross_region_source_reads() -> None:
    profile = str(Path(__file__).resolve().parents[1] / "profiles" / "capacity-all.yaml")
    args = ["estimate", "-p", profile, "--uploads-per-day", "5000", "--avg-minutes", "5"]
    result = CliRunner().invoke(main, [*args, "--format", "json"])
    assert result.exit_code == 0, result.output
    document = json.loads(result.output)
    prices = load_prices()
    source_gb = prices["workload"]["source_bitrate_mbps"]["1080p"] * 1e6 * 300 / 8 / 1e9
    jobs_per_asset = len(document["workload"]["jobsPerAsset"])
    jobs = 5000 * prices["workload"]["days_per_month"] * jobs_per_asset
    fallback = document["fallback"]
    assert fallback["region"] == "us-west-2"
    assert fallback["sourceGbPerMonthIfAll"] == pytest.approx(jobs * source_gb, rel=1e-3)
    assert fallback["monthlyIfAll"] == pytest.approx(jobs * source_gb * 0.02, rel=1e-3)
    assert fallback["monthlyAtShare"] == pytest.approx(fallback["monthlyIfAll"] * 0.05, rel=1e-3)
    table = CliRunner().invoke(main, args).output
    assert "Regional fallback to us-west-2" in table
    without = CliRunner().invoke(main, ["estimate", "--format", "json"]).output
    assert "fallback" not in json.loads(without)


def fallback_section() -> str:
    section = capacity_section()
    return section[section.index("### Regional fallback") :]


def test_the_documented_fallback_section_is_valid() -> None:
    snippet = fallback_section().split("```yaml\n", 1)[1].split("```", 1)[0]
    profile = Profile.model_validate(yaml.safe_load(snippet))
    assert profile.capacity is not None and profile.capacity.fallback is not None
    assert profile.capacity.fallback.region == "us-west-2"


def test_the_documented_fallback_deploy_deploys_what_render_writes(tmp_path: Path) -> None:
    """The documented deploy, run against moto's CloudFormation in the fallback region with the
    file `render -o build/template.yaml` writes and the parameters the command passes."""
    import boto3
    from moto import mock_aws

    command = fallback_section().split("```bash\n", 1)[1].split("```", 1)[0]
    words = command.replace("\\\n", " ").split()
    assert words[:3] == ["aws", "cloudformation", "deploy"]
    overrides_at = words.index("--parameter-overrides")
    options = dict(zip(words[3:overrides_at:2], words[4:overrides_at:2], strict=True))
    parameters = dict(word.split("=", 1) for word in words[overrides_at + 1 :])
    profile = {"name": "documented", "capacity": {"fallback": {"region": options["--region"]}}}
    profile_path = tmp_path / "documented.yaml"
    profile_path.write_text(yaml.safe_dump(profile), encoding="utf-8")
    (tmp_path / "build").mkdir()
    out = tmp_path / "build" / "template.yaml"
    result = CliRunner().invoke(main, ["render", "-p", str(profile_path), "-o", str(out)])
    assert result.exit_code == 0, result.output
    written = tmp_path / options["--template-file"]
    template = yaml.safe_load(written.read_text(encoding="utf-8"))
    assert set(parameters) == set(template["Parameters"])
    assert options["--capabilities"] == "CAPABILITY_IAM"
    with mock_aws():
        cloudformation = boto3.client("cloudformation", region_name=options["--region"])
        cloudformation.create_stack(
            StackName=options["--stack-name"],
            TemplateBody=written.read_text(encoding="utf-8"),
            Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in parameters.items()],
            Capabilities=[options["--capabilities"]],
        )
        stack = cloudformation.describe_stacks(StackName=options["--stack-name"])["Stacks"][0]
        assert stack["StackStatus"] == "CREATE_COMPLETE"
        events = boto3.client("events", region_name=options["--region"])
        [rule] = events.list_rules()["Rules"]
        [target] = events.list_targets_by_rule(Rule=rule["Name"])["Targets"]
        assert target["Arn"] == (
            f"arn:aws:events:{parameters['PrimaryRegion']}:123456789012:event-bus/default"
        )
        pattern = json.loads(rule["EventPattern"])
        assert pattern["detail"]["userMetadata"]["mediapipePipelineId"] == [
            parameters["PipelineStackName"]
        ]


def test_a_deploy_outside_the_existing_queues_region_or_account_is_refused() -> None:
    rules = capacity_template()["Rules"]
    assertions = rules["CapacityQueuesInStackRegionAndAccount"]["Assertions"]
    asserted = [a["Assert"]["Fn::Equals"] for a in assertions]
    assert asserted == [
        [{"Ref": "AWS::Region"}, "us-east-1"],
        [{"Ref": "AWS::AccountId"}, "123456789012"],
    ]
    assert "CapacityQueuesInStackRegionAndAccount" not in template_for().get("Rules", {})
