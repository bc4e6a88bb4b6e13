/**
 * Entry point of a gateway worker process (cluster `exec`); the primary in
 * primary.ts forks it. Not a library module: importing it runs the worker.
 */
import 'reflect-metadata';
import { runGatewayWorker } from './worker.js';

runGatewayWorker();
