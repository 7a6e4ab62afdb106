#!/usr/bin/env python3
"""Seeds an AWS API emulator (moto server) with an account at a chosen scale,
for the AWS benchmark (scripts/bench-aws.sh): SCALE multiplies IAM users,
S3 buckets and security groups. Runs with the boto3 of moto's virtualenv.

    seed-aws.py ENDPOINT SCALE [REGION ...]
"""
import json
import sys

import boto3

endpoint, scale = sys.argv[1], int(sys.argv[2])
regions = sys.argv[3:] or ["us-east-1"]
common = dict(endpoint_url=endpoint, aws_access_key_id="testing", aws_secret_access_key="testing")

iam = boto3.client("iam", region_name="us-east-1", **common)
iam.update_account_password_policy(MinimumPasswordLength=8, PasswordReusePrevention=1)
admin = iam.create_policy(PolicyName="admin-all", PolicyDocument=json.dumps(
    {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}))["Policy"]["Arn"]
iam.create_group(GroupName="admins")
iam.attach_group_policy(GroupName="admins", PolicyArn=admin)
for i in range(10 * scale):
    name = f"user{i:04d}"
    iam.create_user(UserName=name)
    if i % 2 == 0:
        iam.create_login_profile(UserName=name, Password="Passw0rd!Passw0rd!")
    if i % 3 == 0:
        iam.create_access_key(UserName=name)
    if i % 5 == 0:
        iam.add_user_to_group(UserName=name, GroupName="admins")
    if i % 7 == 0:
        iam.attach_user_policy(UserName=name, PolicyArn="arn:aws:iam::aws:policy/ReadOnlyAccess")

s3 = boto3.client("s3", region_name="us-east-1", **common)
for i in range(10 * scale):
    region = regions[i % len(regions)]
    bucket = f"bucket-{i:04d}"
    client = boto3.client("s3", region_name=region, **common)
    if region == "us-east-1":
        client.create_bucket(Bucket=bucket)
    else:
        client.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": region})
    if i % 2 == 0:
        client.put_public_access_block(Bucket=bucket, PublicAccessBlockConfiguration={
            "BlockPublicAcls": True, "IgnorePublicAcls": True, "BlockPublicPolicy": True, "RestrictPublicBuckets": True})
        client.put_bucket_encryption(Bucket=bucket, ServerSideEncryptionConfiguration={
            "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]})
        client.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})

for region in regions:
    ec2 = boto3.client("ec2", region_name=region, **common)
    vpc = ec2.describe_vpcs(Filters=[{"Name": "isDefault", "Values": ["true"]}])["Vpcs"][0]["VpcId"]
    for i in range(10 * scale):
        group = ec2.create_security_group(GroupName=f"sg-{i:04d}", Description="seeded", VpcId=vpc)["GroupId"]
        if i % 4 == 0:
            ec2.authorize_security_group_ingress(GroupId=group, IpPermissions=[
                {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}])
    kms = boto3.client("kms", region_name=region, **common)
    kms.create_key(Description="seeded")
    trail_bucket = f"trail-{region}"
    client = boto3.client("s3", region_name=region, **common)
    if region == "us-east-1":
        client.create_bucket(Bucket=trail_bucket)
    else:
        client.create_bucket(Bucket=trail_bucket, CreateBucketConfiguration={"LocationConstraint": region})
    if region == regions[0]:
        trail = boto3.client("cloudtrail", region_name=region, **common)
        trail.create_trail(Name="main", S3BucketName=trail_bucket, IsMultiRegionTrail=True, EnableLogFileValidation=True)
        trail.start_logging(Name="main")
print(f"seeded scale {scale}: {10 * scale} users, {10 * scale} buckets, {10 * scale} security groups per region in {', '.join(regions)}")
