import { arena_ready } from "../../assembly/arena";
import { setup, MEMORY_BASE } from "./support";
describe("x", () => {
  test("fresh", () => {
    expect(arena_ready()).toBe(0);
    setup();
    expect(arena_ready()).toBe(1);
    expect(changetype<usize>("a static string")).toBeGreaterThanOrEqual(MEMORY_BASE);
  });
});
