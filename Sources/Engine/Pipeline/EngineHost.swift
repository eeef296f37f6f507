import Foundation
import LuaKit

extension Engine {
    /// What one shard's rules may read: its clock, customers and counters,
    /// and the shared lists, recommendations, market signals and catalog.
    /// A read of state outside the customer marks the evaluation volatile,
    /// so a segment that made it is not kept as unchanged.
    static func ruleHost(state: EngineState, shared: SharedState) -> RuleHost {
        var host = RuleHost(
            now: { state.now },
            log: { state.log($0) },
            listContains: { state.noteVolatileRead(); return shared.listContains($0, $1) },
            count: { state.noteVolatileRead(); return state.count($0, $1, window: $2) },
            distinct: { state.noteVolatileRead(); return state.distinct($0, $1, window: $2) },
            customerCount: { id, name, window in
                let input = CustomerInputs.event(named: name).rawValue
                guard let times = state.customers[id]?.eventTimes[name] else { return (0, nil, input) }
                guard window >= 0 else { return (times.count, nil, input) }
                let since = state.now - window
                var count = 0
                var oldest = Int64.max
                for time in times where time >= since {
                    count += 1
                    oldest = min(oldest, time)
                }
                // The count holds until the oldest event counted leaves the window.
                return (count, count > 0 ? oldest + window + 1 : nil, input)
            },
            recentlyViewed: { id, n in Array((state.customers[id]?.viewed ?? []).prefix(n)) }
        )
        host.nowCell = state.nowPointer
        host.customerField = { [unowned state] name, stack in
            guard let customer = state.currentCustomer else { return stack.pushTable() }
            if name == "rfm" && customer.row.lastOrderAt != nil { state.noteVolatileRead() } // recency moves with the clock
            customer.pushField(name, stack, now: state.now)
        }
        host.eventField = { [unowned state] name, stack in
            guard let event = state.currentEvent else { return stack.pushNil() }
            Self.pushField(name, of: event, order: state.currentOrder, stack)
        }
        host.recommend = { id, n in
            state.noteVolatileRead()
            return (try? state.recommend(id, n: n).items.map(\.sku)) ?? []
        }
        host.trending = { n in
            state.noteVolatileRead()
            return shared.market.trending(now: state.now, limit: n)
        }
        host.competitorPrices = { sku in
            state.noteVolatileRead()
            return shared.market.competitorPrices(sku)
        }
        host.catalogProduct = { sku in
            state.noteVolatileRead()
            return shared.catalog.product(sku).map { ($0.name, $0.category, $0.brand, $0.price) }
        }
        host.catalogCategory = { name in
            state.noteVolatileRead()
            return shared.catalog.category(name).map { ($0.products, $0.averagePrice, $0.minPrice, $0.maxPrice) }
        }
        host.sales = { from, to in
            state.noteVolatileRead()
            return shared.sales(from: from, to: to)
        }
        return host
    }
}
