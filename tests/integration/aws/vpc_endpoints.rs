//! `aws.ec2.vpc_endpoints` from the emulator: a child of the AWS end-to-end
//! test (`super`), run after its audits so that nothing it creates changes
//! their verdicts. It creates a VPC with a gateway endpoint for S3 (with its
//! own policy, on the VPC's route table) and an interface endpoint for EC2
//! (in a subnet, with a security group, EC2's default policy), then collects
//! the fact through the library's AWS collector (the real AWS SDK, no check
//! reads the kind yet) and compares every field.
//!
//! Emulator note: moto pages nothing, so the fact's paging is the SDK
//! paginator's single page here.

use aws_sdk_ec2::types::{Filter, VpcEndpointType};
use posture::facts::aws::calls;
use posture::facts::aws::collect::{collect, AwsTarget};
use posture::facts::{FactKey, FactSource, FactValue};
use serde_json::{json, Value};

use super::{sdk_config, Clients, ACCOUNT, REGIONS};

const KIND: &str = "aws.ec2.vpc_endpoints";
const GATEWAY_POLICY: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::posture-*/*"}]}"#;

/// What the seeding made: the VPC and the ids each endpoint must carry.
struct Seeded {
    vpc: String,
    subnet: String,
    route_table: String,
    security_group: String,
    gateway: String,
    interface: String,
}

async fn seed(c: &Clients) -> Seeded {
    let vpc = c.ec2.create_vpc().cidr_block("10.20.0.0/16").send().await.expect("CreateVpc");
    let vpc = vpc.vpc().and_then(|v| v.vpc_id()).expect("vpc id").to_owned();
    let subnet = c.ec2.create_subnet().vpc_id(&vpc).cidr_block("10.20.1.0/24").send().await.expect("CreateSubnet");
    let subnet = subnet.subnet().and_then(|s| s.subnet_id()).expect("subnet id").to_owned();
    let route_tables = c
        .ec2
        .describe_route_tables()
        .filters(Filter::builder().name("vpc-id").values(&vpc).build())
        .send()
        .await
        .expect("DescribeRouteTables");
    let route_table = route_tables
        .route_tables()
        .first()
        .and_then(|table| table.route_table_id())
        .expect("a new VPC has its main route table")
        .to_owned();
    let group = c
        .ec2
        .create_security_group()
        .group_name("endpoint-https")
        .description("HTTPS to the EC2 endpoint")
        .vpc_id(&vpc)
        .send()
        .await
        .expect("CreateSecurityGroup");
    let security_group = group.group_id().expect("group id").to_owned();

    let gateway = c
        .ec2
        .create_vpc_endpoint()
        .vpc_id(&vpc)
        .vpc_endpoint_type(VpcEndpointType::Gateway)
        .service_name("com.amazonaws.us-east-1.s3")
        .route_table_ids(&route_table)
        .policy_document(GATEWAY_POLICY)
        .send()
        .await
        .expect("CreateVpcEndpoint (gateway)");
    let gateway = gateway.vpc_endpoint().and_then(|e| e.vpc_endpoint_id()).expect("endpoint id").to_owned();
    let interface = c
        .ec2
        .create_vpc_endpoint()
        .vpc_id(&vpc)
        .vpc_endpoint_type(VpcEndpointType::Interface)
        .service_name("com.amazonaws.us-east-1.ec2")
        .subnet_ids(&subnet)
        .security_group_ids(&security_group)
        .private_dns_enabled(false)
        .send()
        .await
        .expect("CreateVpcEndpoint (interface)");
    let interface = interface.vpc_endpoint().and_then(|e| e.vpc_endpoint_id()).expect("endpoint id").to_owned();
    Seeded { vpc, subnet, route_table, security_group, gateway, interface }
}

/// Seeds the endpoints in us-east-1, collects the kind in both regions and
/// checks the values, their source, and that no request was sent twice.
pub(super) fn are_collected(endpoint: &str) {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("runtime");
    let (seeded, facts, sent) = runtime.block_on(async {
        let seeded = seed(&Clients::new(endpoint, "us-east-1").await).await;
        let target = AwsTarget {
            config: sdk_config(endpoint, "us-east-1").await,
            account_id: ACCOUNT.to_owned(),
            caller_arn: format!("arn:aws:iam::{ACCOUNT}:user/posture-test"),
            partition: "aws".to_owned(),
            regions: REGIONS.iter().map(|region| (*region).to_owned()).collect(),
            calls: calls::CallLog::new(),
        };
        let facts = collect(&target, &[FactKey::new(KIND)].into_iter().collect()).await;
        (seeded, facts, target.calls.summary())
    });

    let keys: Vec<&str> = facts.iter().map(|fact| fact.key.as_str()).collect();
    assert_eq!(keys, [format!("{KIND}:eu-west-1"), format!("{KIND}:us-east-1")], "one fact per region");
    let value_in = |region: &str| -> Value {
        let fact = facts.iter().find(|fact| fact.key.as_str() == format!("{KIND}:{region}")).expect("fact");
        assert_eq!(
            fact.source,
            FactSource::Api {
                service: "ec2".into(),
                operation: "DescribeVpcEndpoints".into(),
                region: Some(region.to_owned())
            }
        );
        match &fact.value {
            FactValue::Available { value } => value.clone(),
            FactValue::Unavailable { reason } => panic!("{} is unavailable: {reason}", fact.key),
        }
    };
    assert_eq!(value_in("eu-west-1"), json!([]), "no endpoint was made in eu-west-1");

    let all = value_in("us-east-1");
    let ours: Vec<&Value> =
        all.as_array().expect("a list").iter().filter(|e| e["vpc_id"] == seeded.vpc.as_str()).collect();
    assert_eq!(ours.len(), 2, "both endpoints of {}: {all:#}", seeded.vpc);
    let by_id = |id: &str| -> Value {
        (*ours.iter().find(|e| e["id"] == id).unwrap_or_else(|| panic!("no endpoint {id}: {all:#}"))).clone()
    };

    let gateway = by_id(&seeded.gateway);
    // moto answers PrivateDnsEnabled true for every endpoint it was not
    // given for; AWS gives false for gateways. Either way it is a boolean.
    assert!(gateway["private_dns_enabled"].is_boolean(), "{gateway:#}");
    let mut gateway_without_dns = gateway.clone();
    gateway_without_dns.as_object_mut().expect("an object").remove("private_dns_enabled");
    let policy: Value = serde_json::from_str(GATEWAY_POLICY).expect("the test's policy is JSON");
    assert_eq!(
        gateway_without_dns,
        json!({
            "id": seeded.gateway,
            "arn": format!("arn:aws:ec2:us-east-1:{ACCOUNT}:vpc-endpoint/{}", seeded.gateway),
            "vpc_id": seeded.vpc,
            "service_name": "com.amazonaws.us-east-1.s3",
            "type": "Gateway",
            "state": "available",
            "policy": policy,
            "subnet_ids": [],
            "route_table_ids": [seeded.route_table],
            "security_group_ids": [],
        })
    );

    let interface = by_id(&seeded.interface);
    let default_policy = &interface["policy"];
    assert_eq!(default_policy["Statement"][0]["Effect"], "Allow", "EC2's default full-access policy: {interface:#}");
    assert_eq!(
        interface,
        json!({
            "id": seeded.interface,
            "arn": format!("arn:aws:ec2:us-east-1:{ACCOUNT}:vpc-endpoint/{}", seeded.interface),
            "vpc_id": seeded.vpc,
            "service_name": "com.amazonaws.us-east-1.ec2",
            "type": "Interface",
            "state": "available",
            "policy": default_policy,
            "private_dns_enabled": false,
            "subnet_ids": [seeded.subnet],
            "route_table_ids": [],
            "security_group_ids": [seeded.security_group],
        })
    );

    // The account's call log: each region asked once.
    assert_eq!(sent.calls.get("ec2 DescribeVpcEndpoints"), Some(&2), "{sent}");
    assert!(sent.repeated.is_empty(), "{sent}");
}
