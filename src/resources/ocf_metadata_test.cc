#include "resources/ocf_metadata.h"

#include <gtest/gtest.h>

namespace cohort::resources {
namespace {

// As IPaddr2 prints it, shortened.
constexpr const char* kIpAddr2 = R"(<?xml version="1.0"?>
<!DOCTYPE resource-agent SYSTEM "ra-api-1.dtd">
<resource-agent name="IPaddr2" version="1.0">
<longdesc lang="en">Manages virtual IPv4 and IPv6 addresses</longdesc>
<parameters>
<parameter name="ip" unique="1" required="1">
<shortdesc lang="en">IPv4 or IPv6 address</shortdesc>
<content type="string" default="" />
</parameter>
<parameter name="cidr_netmask">
<content type="string" default=""/>
</parameter>
<parameter name='nic' required='0'><content type="string"/></parameter>
</parameters>
<actions>
<action name="start"   timeout="20s" />
<action name="stop"    timeout="20s" />
<action name="monitor" depth="0"  timeout="20s" interval="10s" />
<action name="monitor" depth="10"  timeout="20s" interval="10s" />
<action name="meta-data"  timeout="5s" />
</actions>
</resource-agent>
)";

ResourceSpec Spec(std::map<std::string, std::string> params) {
  ResourceSpec s;
  s.name = "vip";
  s.agent = "heartbeat:IPaddr2";
  s.params = std::move(params);
  return s;
}

TEST(OcfMetadataTest, ParametersAndActionsAsTheAgentStatesThem) {
  auto m = ParseOcfMetadata(kIpAddr2);
  ASSERT_TRUE(m) << m.error().message();
  EXPECT_EQ(m->agent_name, "IPaddr2");
  ASSERT_EQ(m->parameters.size(), 3u);
  EXPECT_TRUE(m->parameters[0].required);
  EXPECT_FALSE(m->parameters[1].required);
  EXPECT_EQ(m->parameters[2].name, "nic");
  EXPECT_EQ(m->actions, (std::vector<std::string>{"start", "stop", "monitor", "meta-data"}));

  EXPECT_TRUE(CheckParameters(Spec({{"ip", "10.0.0.9"}, {"cidr_netmask", "24"}}), *m));
  auto missing = CheckParameters(Spec({{"cidr_netmask", "24"}}), *m);
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().message(),
            "resource vip: heartbeat:IPaddr2 requires parameter ip (its meta-data)");
  auto typo = CheckParameters(Spec({{"ip", "10.0.0.9"}, {"netmask", "24"}}), *m);
  ASSERT_FALSE(typo);
  EXPECT_EQ(typo.error().message(),
            "resource vip: heartbeat:IPaddr2 has no parameter netmask (its meta-data lists: "
            "ip, cidr_netmask, nic)");
  ResourceSpec promotable = Spec({{"ip", "10.0.0.9"}});
  promotable.promotable = true;
  auto unoffered = CheckParameters(promotable, *m);
  ASSERT_FALSE(unoffered);
  EXPECT_EQ(unoffered.error().message(),
            "resource vip: heartbeat:IPaddr2 offers no promote action (its meta-data), so it "
            "cannot be promotable");
  m->actions.push_back("promote");
  m->actions.push_back("demote");
  EXPECT_TRUE(CheckParameters(promotable, *m));
}

TEST(OcfMetadataTest, WhatIsNotMetaDataIsRefusedInOneLine) {
  for (const char* bad :
       {"", "usage: Dummy {start|stop}",
        "<resource-agent name=\"x\">"
        "<parameter required=\"1\"/>",
        "<resource-agent><parameter name=\"a b\"/>", "<resource-agent><action name=/>"}) {
    auto r = ParseOcfMetadata(bad);
    EXPECT_FALSE(r) << bad;
    if (!r) {
      EXPECT_EQ(r.error().message().find('\n'), std::string::npos);
    }
  }
  EXPECT_FALSE(ParseOcfMetadata(std::string(kMaxMetadataBytes + 1, ' ') + kIpAddr2));
}

}  // namespace
}  // namespace cohort::resources
