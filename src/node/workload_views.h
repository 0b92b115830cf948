// The workload's tables as the API shows them (INTERFACE.md: GET /v1/content,
// /v1/content/where, /v1/streams), made on the supervisor in answer to a query.
#pragma once

#include "workload/messages.h"
#include "workload/supervisor.h"

namespace cohort::node {

inline constexpr uint32_t kDefaultContentPage = 100;
inline constexpr uint32_t kMaxContentPage = 1000;
inline constexpr uint32_t kMaxSessionsListed = 1000;

workload::QueryReplyMsg AnswerQuery(const workload::Supervisor& tables, NodeId supervisor,
                                    const workload::QueryMsg& query, int64_t now_ms);

}  // namespace cohort::node
