import type { Page } from "playwright-core";
export declare const paneSelectors: string[];
export declare function layoutProblems(page: Page): Promise<string[]>;
export declare const layoutWidths: number[];
