#!/usr/bin/env python3
"""Copies one of etcd's .proto files without its gogoproto and grpc-gateway options, which
only steer Go code generation; the wire format is unchanged. Usage: strip_proto.py IN OUT"""
import re
import sys

src, dst = sys.argv[1], sys.argv[2]
text = open(src).read()
text = re.sub(r'^import "(gogoproto|google/api)/[^"]*";\n', "", text, flags=re.M)
text = re.sub(r"^option \(gogoproto\.[^;]*;\n", "", text, flags=re.M)
text = re.sub(r"option \(google\.api\.http\) = \{.*?\};", "", text, flags=re.S)
text = re.sub(r"\s*\[\s*\(gogoproto\.[^\]]*\]", "", text)
if "gogoproto" in text or "google.api" in text:
    sys.exit(f"strip_proto.py: {src}: options left after stripping")
open(dst, "w").write(text)
