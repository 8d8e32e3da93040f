import { runStoreContract } from "./_contract.ts";
import { memoryStore } from "./memory.ts";

runStoreContract("memory", () => Promise.resolve(memoryStore()));
